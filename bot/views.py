"""Buttons under a dream result that keep working after a restart.

All state lives in the custom_id (`dream:<action>:<requester_id>`) and the message itself (result
image + settings embed), so `DynamicItem` can rebuild a button from any old message; the view has
no timeout. The button only routes the click; the dream cog does the work.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.guildconf import can_manage_server

if TYPE_CHECKING:
    from bot.client import DreamBot

ACTIONS = {
    "deeper": ("Dream deeper", "🌀", discord.ButtonStyle.primary),
    "reroll": ("Re-roll", "🎲", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}


def custom_id(action: str, requester_id: int) -> str:
    return f"dream:{action}:{requester_id}"


class DreamButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"dream:(?P<action>deeper|reroll|delete):(?P<uid>\d+)",
):
    def __init__(self, action: str, requester_id: int) -> None:
        label, emoji, style = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=custom_id(action, requester_id)
            )
        )
        self.action = action
        self.requester_id = requester_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DreamButton:
        return cls(match["action"], int(match["uid"]))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        bot: DreamBot = interaction.client  # type: ignore[assignment]
        cog = bot.get_cog("Dream")
        if cog is None:  # being reloaded
            await interaction.response.send_message(
                "Dreaming is paused, try again soon.", ephemeral=True
            )
            return
        await cog.on_button(interaction, self.action, self.requester_id)  # type: ignore[attr-defined]


def result_view(requester_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(DreamButton(action, requester_id))
    return view


def may_delete(user: discord.abc.User, requester_id: int) -> bool:
    """The requester, or anyone who may manage the server."""
    return user.id == requester_id or can_manage_server(user)
