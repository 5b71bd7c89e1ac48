"""The Edit form under a result: a modal filled with that dream's settings (the ledger's record,
bot/posted.py); submitting it dreams the same source with the changes, through the order desk
like Re-roll. Discord allows five fields in a form, so strength, steps and octaves share one
line; smooth and colours are closed choices (selects). A bad value is refused in one line before
anything is reserved; the result's notes say what changed."""

from __future__ import annotations

import dataclasses
import re

import discord

from bot import replies
from bot.guilds import GuildSettings
from bot.order import Choose, Plan
from bot.orders import Trigger
from bot.params import within_guild
from bot.posted import PostedResult, source_plan
from bot.services import services_of
from dreamcore.config import EngineConfig
from dreamcore.errors import InvalidParams
from dreamcore.request import MAX_SMOOTH, DreamParams, make_params

FORM_TIMEOUT_S = 15 * 60.0  # an interaction's token lives 15 minutes; the form no longer
Change = tuple[str, object, object]  # (name, before, after)
EDITABLE = ("layer", "strength", "steps", "octaves", "seed", "smooth", "colors")


@dataclasses.dataclass(frozen=True)
class Submitted:
    """The form's fields as typed or chosen (strings; empty when cleared)."""

    layer: str
    numbers: str  # "strength, steps, octaves"
    seed: str
    smooth: str
    colors: str

    @classmethod
    def prefilled(cls, params: DreamParams) -> Submitted:
        return cls(
            layer=params.layer or "",
            numbers=f"{params.strength:g}, {params.steps}, {params.octaves}",
            seed="" if params.seed is None else str(params.seed),
            smooth=str(params.smooth),
            colors=params.colors,
        )


def edited(old: DreamParams, form: Submitted) -> tuple[DreamParams, list[Change]]:
    """The params the form asks for, and what changed ((name, old, new) in EDITABLE's order);
    raises InvalidParams (one line) for a value the form or the params refuse."""
    parts = [p for p in re.split(r"[,\s;·]+", form.numbers.strip()) if p]
    try:
        strength, steps, octaves = float(parts[0]), int(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        raise InvalidParams(replies.EDIT_NUMBERS_BAD) from None
    if len(parts) != 3:
        raise InvalidParams(replies.EDIT_NUMBERS_BAD)
    seed_text = form.seed.strip()
    if seed_text and not seed_text.isdigit():
        raise InvalidParams(replies.EDIT_SEED_BAD)
    update = {
        "layer": form.layer.strip() or None,
        "strength": strength,
        "steps": steps,
        "octaves": octaves,
        "seed": int(seed_text) if seed_text else None,
        "smooth": int(form.smooth),
        "colors": form.colors,
    }
    if update["layer"] is None and not (old.target_class or old.guided):
        update["layer"] = old.layer  # an ordinary dream needs a target: keep its layer
    new = make_params(**{**old.model_dump(), **update})  # None is the default: seed random
    changes = [
        (name, getattr(old, name), getattr(new, name))
        for name in EDITABLE
        if getattr(old, name) != getattr(new, name)
    ]
    return new, changes


def edit_plan(posted: PostedResult, form: Submitted, engine: EngineConfig) -> Choose:
    """The same source as Re-roll dreams (its original, else the result), with the form's
    settings under the server's cap, and a note of what changed."""

    def choose(guild: GuildSettings) -> Plan:
        old = posted.params()
        params, changes = edited(old, form)
        plan = source_plan(posted, within_guild(params, engine, guild), old)
        return dataclasses.replace(plan, notes=(*plan.notes, replies.changed_note(changes)))

    return choose


def _text(label: str, hint: str, value: str, *, required: bool, max_length: int) -> tuple:
    field: discord.ui.TextInput = discord.ui.TextInput(
        default=value, required=required, max_length=max_length
    )
    return discord.ui.Label(text=label, description=hint, component=field), field


def _select(label: str, hint: str | None, options: dict[str, str], chosen: str) -> tuple:
    select: discord.ui.Select = discord.ui.Select(
        options=[
            discord.SelectOption(label=text, value=value, default=value == chosen)
            for value, text in options.items()
        ]
    )
    return discord.ui.Label(text=label, description=hint, component=select), select


class EditForm(discord.ui.Modal):
    """The form itself; its fields hold what the dream had, and on submit they go to the desk."""

    def __init__(self, posted: PostedResult, params: DreamParams) -> None:
        super().__init__(title=replies.EDIT_TITLE, timeout=FORM_TIMEOUT_S)
        self.posted = posted
        self.was = was = Submitted.prefilled(params)
        label, self.layer = _text(
            replies.EDIT_LAYER, replies.EDIT_LAYER_HINT, was.layer, required=False, max_length=200
        )
        self.add_item(label)
        label, self.numbers = _text(
            replies.EDIT_NUMBERS,
            replies.EDIT_NUMBERS_HINT,
            was.numbers,
            required=True,
            max_length=40,
        )
        self.add_item(label)
        label, self.seed = _text(
            replies.EDIT_SEED, replies.EDIT_SEED_HINT, was.seed, required=False, max_length=20
        )
        self.add_item(label)
        levels = {str(n): str(n) for n in range(MAX_SMOOTH + 1)}
        label, self.smooth = _select(
            replies.EDIT_SMOOTH, replies.EDIT_SMOOTH_HINT, levels, was.smooth
        )
        self.add_item(label)
        label, self.colors = _select(
            replies.EDIT_COLOURS, None, replies.EDIT_COLOURS_CHOICES, was.colors
        )
        self.add_item(label)

    def submitted(self) -> Submitted:
        return Submitted(
            layer=self.layer.value,
            numbers=self.numbers.value,
            seed=self.seed.value,
            smooth=(self.smooth.values or [self.was.smooth])[0],  # none chosen: as it was
            colors=(self.colors.values or [self.was.colors])[0],
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        services = services_of(interaction.client)
        message = interaction.message or self.posted.message
        trigger = Trigger.of_interaction("button", interaction, message)
        await services.orders.take(
            trigger, edit_plan(self.posted, self.submitted(), services.settings.engine)
        )
