"""The reply to variants (`/dream variants:2-4`) as a Components V2 message: one container with
what was dreamed (the settings the variants share, each one's target and seed, the price), a
media gallery of the dreams, each variant's own buttons under it (Deeper, Animate, Edit: they
dream that variant alone) and the reply's Delete.

    Container
      Section: TextDisplay (the text below) + Thumbnail (the source, "before")
               (a plain TextDisplay when the source was left out to fit the upload limit)
      MediaGallery: attachment://dream-1.png ... (each described by its target and seed)
      ActionRow per variant: Deeper k, Animate k (stills only), Edit k
      ActionRow: Delete

A V2 message has no content and no embeds: the job id a variant's buttons need is in their
custom_id (bot/buttons.py) and its params in the ledger. The text is read back for a variant the
ledger doesn't know or can't tell in time (`variant_params`, as an embed's settings are: the
same settings line, so the same things are lost: octave scale, blend, tile size, WebP output).
The reply's files are the dreams (`dream-1.png` ...) and the variants' one source and guide,
which no component shows but the header's thumbnail (Edit dreams the source again). Every
reference is to a file that is attached: the publisher passes what it planned. Pure: no I/O;
the buttons come from the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.layout import read_settings, settings_line
from bot.replies import VARIANT_PART, dreams, part_text
from dreamcore.request import DreamParams, DreamResult, make_params

TEXT_LIMIT = 4000  # characters of text in one V2 message, all TextDisplays together
DESCRIPTION_LIMIT = 256  # a media item's description (discord.py's bound; Discord's is larger)
HEADING = "### DeepDream"
CLASS_TARGET = "class:"  # DreamParams.target of a class dream: `class:banana`
# The lines a variant's params are read back from (see `shared_line` and `variant_line`).
_SHARED = re.compile(r"Dreamed for <@[0-9]+> · `(?P<model>[^`]+)` · (?P<settings>.*)")
_VARIANT = re.compile(
    r"\*\*(?P<index>[0-9]+)\*\* · `(?P<target>[^`]+)` · seed (?P<seed>[0-9]+)(?: · .*)?"
)


@dataclass(frozen=True)
class Shown:
    """One variant as posted."""

    index: int  # 1-based, as its file is named: dream-{index}.*
    job_id: str
    filename: str  # the attached file (re-encoded or spoilered: renamed)
    params: DreamParams
    result: DreamResult
    queue_s: float
    units: int = 1

    @property
    def still(self) -> bool:
        return self.result.frames == 1


@dataclass(frozen=True)
class Gallery:
    """The reply as a whole: the variants posted, those that failed, and the files beside."""

    requester_id: int
    shown: tuple[Shown, ...]
    failures: tuple[str, ...] = ()  # "Variant 2: ..." lines
    notes: tuple[str, ...] = ()  # e.g. "the source was left out to fit"
    source: str | None = None  # the source's attached name, when it fit
    spoiler: bool = False  # every file hidden (bot.order.hides_the_answer)

    @property
    def units(self) -> int:
        return sum(shown.units for shown in self.shown)


Actions = Callable[[Shown], Sequence[discord.ui.Item[Any]]]  # a variant's buttons


def shared_line(gallery: Gallery) -> str:
    """`Dreamed for <@42> · `tiny` · octaves 4 · steps 10 · ...`: the settings the variants
    share (they differ only by target and seed: bot.params.variants)."""
    first = gallery.shown[0]
    model = first.result.model
    return f"Dreamed for <@{gallery.requester_id}> · `{model}` · {settings_line(first.params)}"


def variant_line(shown: Shown) -> str:
    """`**2** · `relu2:5` · seed 456 · 64×64 · 0.4 s`"""
    result = shown.result
    size = f"{result.width}×{result.height}"
    if result.frames > 1:
        size += f", {result.frames} frames"
    time = f"{result.seconds:.1f} s"
    if shown.queue_s >= 1:
        time += f" (+{shown.queue_s:.0f} s queued)"
    return f"**{shown.index}** · `{shown.params.target}` · seed {result.seed} · {size} · {time}"


def description(shown: Shown) -> str:
    """A gallery item's description: which variant, its target and seed."""
    text = f"{part_text(shown.index, shown.params.target, VARIANT_PART)} · seed {shown.result.seed}"
    return text[:DESCRIPTION_LIMIT]


def text(gallery: Gallery) -> str:
    """What was dreamed: the settings the variants share, each one's line, the price, notes."""
    count = f"{len(gallery.shown)} variants" if len(gallery.shown) > 1 else "1 variant"
    lines = [
        f"{HEADING} · {count}",
        shared_line(gallery),
        *(variant_line(shown) for shown in gallery.shown),
        f"Cost: {dreams(gallery.units)}",
    ]
    if gallery.failures:
        lines.append("Not dreamed: " + "; ".join(gallery.failures))
    notes = [*{note: None for shown in gallery.shown for note in shown.result.notes}]
    lines += [f"-# {note}" for note in (*notes, *gallery.notes)]
    return "\n".join(lines)[:TEXT_LIMIT]


# --- read back -----------------------------------------------------------------------------------


def text_of(message: discord.Message) -> str | None:
    """A gallery reply's text as discord.py parses a received V2 message (Container > Section >
    TextDisplay, or a TextDisplay in the Container); None when the message shows none of ours."""
    for component in _walk(message.components):
        if isinstance(component, discord.TextDisplay) and component.content.startswith(HEADING):
            return component.content
    return None


def _walk(components: Iterable[discord.Component]) -> Iterator[discord.Component]:
    for component in components:
        yield component
        if isinstance(component, discord.Container | discord.SectionComponent):
            yield from _walk(component.children)


def variant_params(text: str, index: int) -> DreamParams | None:
    """Variant `index`'s params as the gallery's `text` shows them: the model and settings the
    variants share, its own target and seed. None when the text doesn't show that variant (not
    ours, or edited); raises InvalidParams when what it shows is refused, as an embed's would
    be. What the settings line doesn't carry takes its default, as for an embed."""
    lines = text.splitlines()
    shared = next((m for m in map(_SHARED.fullmatch, lines) if m), None)
    own = next((m for m in map(_VARIANT.fullmatch, lines) if m and int(m["index"]) == index), None)
    if not text.startswith(HEADING) or shared is None or own is None:
        return None
    target = own["target"]
    aim = (
        {"target_class": target.removeprefix(CLASS_TARGET)}
        if target.startswith(CLASS_TARGET)
        else {"layer": target}
    )
    values = {**read_settings(shared["settings"]), "model": shared["model"], **aim}
    return make_params(**values, seed=int(own["seed"]))


def media(gallery: Gallery) -> discord.ui.MediaGallery[Any]:
    return discord.ui.MediaGallery(
        *(
            discord.MediaGalleryItem(
                f"attachment://{shown.filename}",
                description=description(shown),
                spoiler=gallery.spoiler,
            )
            for shown in gallery.shown
        )
    )


def header(gallery: Gallery) -> discord.ui.Item[Any]:
    """The text, beside the source as a thumbnail when it is attached."""
    words: discord.ui.TextDisplay[Any] = discord.ui.TextDisplay(text(gallery))
    if gallery.source is None:
        return words
    before: discord.ui.Thumbnail[Any] = discord.ui.Thumbnail(
        f"attachment://{gallery.source}", description="the image dreamed", spoiler=gallery.spoiler
    )
    return discord.ui.Section(words, accessory=before)


def view(
    gallery: Gallery, actions: Actions, closing: Sequence[discord.ui.Item[Any]]
) -> discord.ui.LayoutView:
    """The whole reply: with 4 variants, 23 components of the 40 a message may have."""
    box = discord.ui.Container(header(gallery), media(gallery))
    for shown in gallery.shown:
        box.add_item(discord.ui.ActionRow(*actions(shown)))
    if closing:
        box.add_item(discord.ui.ActionRow(*closing))
    layout = discord.ui.LayoutView(timeout=None)
    layout.add_item(box)
    return layout
