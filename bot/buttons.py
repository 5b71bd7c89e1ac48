"""The buttons under a dream: Dream deeper, Re-roll, Animate (stills only), Edit and Delete under a
result, Cancel under a dream that waits or runs, and each variant's Deeper, Animate and Edit in
a gallery reply (bot/gallery.py). They work after a restart.

A button's state is its custom_id (`dream:<action>:<requester_id>`, Cancel's also names the job;
a variant's `dream:v<k>:<action>:<job>`), so `DynamicItem` rebuilds it from any old message and
no view times out. What Deeper, Re-roll and Animate dream again is the posted result
(bot.posted): its files (the dream, its source and guide, spoilered or not) and its job's params
from the ledger (without its row, the embed's settings; a variant's, its gallery's text; where
neither tells, one line says so).
They go through the order desk like every other trigger; Delete removes the message through the
interaction's own webhook; Cancel stops the job (the requester, or a server manager).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import discord

from bot import gallery, replies
from bot.edit import EditForm
from bot.guilds import GuildSettings, can_manage_server
from bot.orders import Choose, ImageRef, Plan, Trigger
from bot.params import reroll, within_guild
from bot.posted import PostedResult, source_plan, with_guide
from bot.services import services_of
from dreamcore.config import EngineConfig
from dreamcore.errors import InvalidParams
from dreamcore.request import DreamParams

ACTIONS = {
    "deeper": ("Dream deeper", "🌀", discord.ButtonStyle.primary),
    "reroll": ("Re-roll", "🎲", discord.ButtonStyle.secondary),
    "animate": ("Animate", "🎞️", discord.ButtonStyle.secondary),  # under stills only
    "edit": ("Edit", "✏️", discord.ButtonStyle.secondary),  # a form of its settings (bot/edit.py)
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}
TEMPLATE = r"dream:(?P<action>deeper|reroll|animate|edit|delete):(?P<uid>\d+)"


def custom_id(action: str, requester_id: int) -> str:
    return f"dream:{action}:{requester_id}"


class DreamButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):
    def __init__(self, action: str, requester_id: int) -> None:
        label, emoji, style = ACTIONS[action]
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label, emoji=emoji, style=style, custom_id=custom_id(action, requester_id)
        )
        super().__init__(button)
        self.action = action
        self.requester_id = requester_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DreamButton:
        return cls(match["action"], int(match["uid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        message = interaction.message
        if message is None:
            await interaction.response.send_message(replies.MESSAGE_GONE, ephemeral=True)
            return
        if self.action == "delete":
            await delete_result(interaction, self.requester_id)
            return
        services = services_of(interaction.client)
        posted = await PostedResult.read(message, services.store)
        if self.action == "edit":
            await open_edit_form(interaction, posted)
            return
        trigger = Trigger.of_interaction("button", interaction, message)
        await services.orders.take(trigger, PLANS[self.action](posted, services.settings.engine))


VARIANT_LABELS = {"deeper": "Deeper"}  # beside its number: "Deeper 2", "Animate 2", "Edit 2"


class VariantButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"dream:v(?P<k>[1-9]):(?P<action>deeper|animate|edit):(?P<job>[0-9a-f]{12})",
):
    """Under variant k of a gallery reply: dreams that variant alone (Deeper, Animate) or opens
    its form (Edit), from its job's ledger row (else the gallery's text) and its file
    `dream-k.*`."""

    def __init__(self, action: str, index: int, job_id: str) -> None:
        label, emoji, style = ACTIONS[action]
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=f"{VARIANT_LABELS.get(action, label)} {index}",
            emoji=emoji,
            style=style,
            custom_id=f"dream:v{index}:{action}:{job_id}",
        )
        super().__init__(button)
        self.action, self.index, self.job_id = action, index, job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VariantButton:
        return cls(match["action"], int(match["k"]), match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        message = interaction.message
        if message is None:
            await interaction.response.send_message(replies.MESSAGE_GONE, ephemeral=True)
            return
        services = services_of(interaction.client)
        posted = await PostedResult.read_variant(message, services.store, self.job_id, self.index)
        if self.action == "edit":
            await open_edit_form(interaction, posted)
            return
        trigger = Trigger.of_interaction("button", interaction, message)
        await services.orders.take(trigger, PLANS[self.action](posted, services.settings.engine))


def variant_buttons(shown: gallery.Shown) -> list[discord.ui.Item[Any]]:
    """Variant k's own buttons (Animate under a still only)."""
    actions = ("deeper", "animate", "edit") if shown.still else ("deeper", "edit")
    return [VariantButton(action, shown.index, shown.job_id) for action in actions]


def gallery_view(reply: gallery.Gallery) -> discord.ui.LayoutView:
    """The reply to variants: the gallery, each variant's buttons, and Delete for the whole."""
    return gallery.view(reply, variant_buttons, [DreamButton("delete", reply.requester_id)])


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"dream:cancel:(?P<uid>\d+):(?P<job>[0-9a-f]{12})",
):
    """Under a waiting or running dream: stops it (the requester, or a server manager)."""

    def __init__(self, requester_id: int, job_id: str) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label="Cancel",
            emoji="✖️",
            style=discord.ButtonStyle.secondary,
            custom_id=f"dream:cancel:{requester_id}:{job_id}",
        )
        super().__init__(button)
        self.requester_id, self.job_id = requester_id, job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["uid"]), match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if not may_delete(interaction.user, self.requester_id):
            await interaction.response.send_message(replies.ONLY_REQUESTER_CANCELS, ephemeral=True)
            return
        if not services_of(interaction.client).flow.cancel(self.job_id):
            await interaction.response.send_message(replies.ALREADY_FINISHED, ephemeral=True)
            return
        await interaction.response.defer()  # the dream's own message will say it was cancelled


def cancel_view(requester_id: int, job_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(requester_id, job_id))
    return view


def result_view(requester_id: int, *, still: bool = True, batch: bool = False) -> discord.ui.View:
    """Under a result. Several dreams in one reply get Delete only (the others would not
    know which of them to dream)."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        if batch and action != "delete":
            continue
        if action != "animate" or still:
            view.add_item(DreamButton(action, requester_id))
    return view


async def open_edit_form(interaction: discord.Interaction, posted: PostedResult) -> None:
    """The form, filled with what this dream had; a result whose settings can't be read gets
    one line instead."""
    try:
        params = posted.params()
    except InvalidParams as err:
        await interaction.response.send_message(str(err), ephemeral=True)
        return
    await interaction.response.send_modal(EditForm(posted, params))


# --- Delete -----------------------------------------------------------------------------------


def may_delete(user: object, requester_id: int) -> bool:
    """The requester, or anyone who may manage the server."""
    return getattr(user, "id", None) == requester_id or can_manage_server(user)


async def delete_result(interaction: discord.Interaction, requester_id: int) -> None:
    """Delete through the interaction's webhook (@original is the clicked message), which needs
    none of the bot's own channel permissions; say so when it is already gone or not allowed."""
    if not may_delete(interaction.user, requester_id):
        await interaction.response.send_message(replies.ONLY_REQUESTER_DELETES, ephemeral=True)
        return
    await interaction.response.defer()
    try:
        await interaction.delete_original_response()
    except discord.NotFound:
        await interaction.followup.send(replies.ALREADY_DELETED, ephemeral=True)
    except discord.Forbidden:
        await interaction.followup.send(replies.CANNOT_DELETE, ephemeral=True)


# --- what Deeper and Re-roll dream ------------------------------------------------------------


def _read(posted: PostedResult) -> tuple[DreamParams, discord.Attachment]:
    """The result's params (raises InvalidParams when they can't be told) and its dream."""
    params = posted.params()
    return params, posted.dream()


def deeper_plan(posted: PostedResult, engine: EngineConfig) -> Choose:
    """Deeper dreams the result again, with the same settings (under today's server cap)."""

    def choose(guild: GuildSettings) -> Plan:
        params, dream = _read(posted)
        plan = Plan(within_guild(params, engine, guild), ImageRef.of(dream))
        return with_guide(posted.message, params, plan)

    return choose


def reroll_plan(
    posted: PostedResult, engine: EngineConfig, rng: random.Random | None = None
) -> Choose:
    """Re-roll dreams the original input with another layer and seed. The input travels with
    the result (its `source` attachment, whose link is fresh whenever the message is read);
    if it is gone, the result is dreamed instead and the reply says so."""

    def choose(guild: GuildSettings) -> Plan:
        old, _ = _read(posted)
        return source_plan(posted, within_guild(reroll(old, rng), engine, guild), old)

    return choose


def animate_plan(posted: PostedResult, engine: EngineConfig) -> Choose:
    """Animate zooms into this dream: frame 0 is the dream itself dreamed once more, then
    each frame moves in and dreams again (the server's frame cap applies)."""

    def choose(guild: GuildSettings) -> Plan:
        params, dream = _read(posted)
        side = min(params.max_side, engine.animation_side)
        zoom = params.model_copy(update={"animate": "zoom", "max_side": side})
        zoom = within_guild(zoom, engine, guild)
        return with_guide(posted.message, params, Plan(zoom, ImageRef.of(dream)))

    return choose


PLANS: dict[str, Callable[[PostedResult, EngineConfig], Choose]] = {
    "deeper": deeper_plan,
    "reroll": reroll_plan,
    "animate": animate_plan,
}
