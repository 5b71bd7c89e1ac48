"""The result message's layout: its files' names, its embed (the settings of a finished dream, for
people), and reading a dream back from an embed (its footer's job id; its settings line, only for
results the ledger doesn't know: older ones, or a wiped database; a variants gallery's line is
read with it too, bot/gallery.py). The words in it are bot/replies.py's.

Pure functions (no I/O). The embed is for people; its footer names the job, whose ledger row holds
the exact params (bot.posted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import discord

from bot.replies import (
    GUIDE_LEFT_OUT_NOTE,
    SOURCE_LEFT_OUT_NOTE,
    VARIANTS_GUIDE_LEFT_OUT_NOTE,
    VARIANTS_SOURCE_LEFT_OUT_NOTE,
    dreams,
)
from dreamcore.frames import DEFAULT_ZOOM_FRAMES
from dreamcore.imaging import file_extension
from dreamcore.request import DreamParams, DreamResult, make_params

EMBED_TITLE = "DeepDream"
SETTINGS_FIELD = "Settings"
SOURCE_NAME = "source.jpg"  # the input, attached beside the dream: "before", and Re-roll's input
SOURCE_PREFIX = "source."  # an animated input travels whole: source.gif, source.webp, ...
GUIDE_NAME = "guide.jpg"  # a guided dream's guide, attached too, so Re-roll/Deeper keep it
GUIDE_PREFIX = "guide."  # ... shrunk to fit the upload limit it may be guide.webp or .png
# "octaves 4 · steps 10 · strength 1.5 · jitter 32 · max side 1024[ · smooth 4][ · original
# colours][ · guided]": the settings line (an embed's, a gallery's), read back when the ledger
# doesn't know the job.
_NUMBERS = {
    "octaves": int,
    "steps": int,
    "strength": float,
    "jitter": int,
    "max side": int,
    "smooth": int,
    "frames": int,
    "frame steps": int,
    "fps": int,
    "zoom": float,
    "rotate": float,
    "pan": int,
}
_WORDS = {"animate": ("zoom", "spin", "pan"), "as": ("gif", "mp4")}  # "animate zoom", "as gif"
_FLAGS = {"original colours": ("colors", "original"), "guided": ("guided", True)}
_JOB_FOOTER = re.compile(r"job ([0-9a-f]{1,32})")  # the footer of a result embed
SPOILER = "SPOILER_"  # Discord blurs attachments whose name starts with it


def left_out_notes(names: Iterable[str], *, variants: bool = False) -> tuple[str, ...]:
    """Notes for the files that were left out of a result (or of `variants`' gallery) to fit
    the upload limit."""
    notes = {SOURCE_PREFIX: SOURCE_LEFT_OUT_NOTE, GUIDE_PREFIX: GUIDE_LEFT_OUT_NOTE}
    if variants:
        notes = {
            SOURCE_PREFIX: VARIANTS_SOURCE_LEFT_OUT_NOTE,
            GUIDE_PREFIX: VARIANTS_GUIDE_LEFT_OUT_NOTE,
        }
    return tuple(note for prefix, note in notes.items() if any(n.startswith(prefix) for n in names))


# --- the result ---------------------------------------------------------------------------------


def result_filename(result: DreamResult) -> str:
    return f"dream.{file_extension(result.format)}"


def dream_prefix(variant: int | None = None) -> str:
    """How a result's dream file is named: `dream.png`, or `dream-2.png` for part 2 of several
    in one reply (bot.publisher.numbered)."""
    return "dream." if variant is None else f"dream-{variant}."


def settings_line(params: DreamParams) -> str:
    parts = [
        f"octaves {params.octaves}",
        f"steps {params.steps}",
        f"strength {params.strength:g}",
        f"jitter {params.jitter}",
        f"max side {params.max_side}",
    ]
    if params.smooth:
        parts.append(f"smooth {params.smooth}")
    parts += [flag for flag, (key, value) in _FLAGS.items() if getattr(params, key) == value]
    if params.animate:
        parts.append(f"animate {params.animate}")
    if params.animate or params.frames:
        parts += [
            f"frames {params.frames or DEFAULT_ZOOM_FRAMES}",
            f"frame steps {params.frame_steps}",
        ]
        parts.append(f"fps {params.fps}")
        parts += [
            f"{k} {getattr(params, k):g}"
            for k in ("zoom", "rotate", "pan")
            if getattr(params, k) is not None
        ]
    if params.output in ("gif", "mp4"):
        parts.append(f"as {params.output}")
    return " · ".join(parts)


def read_settings(line: str) -> dict[str, object]:
    """The params `settings_line` wrote, as make_params takes them; a part it can't read is
    left out (an edited or foreign line: the default applies)."""
    values: dict[str, object] = {}
    for part in (p.strip() for p in line.split("·")):
        if part in _FLAGS:
            key, value = _FLAGS[part]
            values[key] = value
            continue
        name, _, number = part.rpartition(" ")
        if name in _WORDS and number in _WORDS[name]:
            values["animate" if name == "animate" else "output"] = number
            continue
        if name in _NUMBERS:
            try:
                values[name.replace(" ", "_")] = _NUMBERS[name](number)
            except ValueError:
                pass  # an edited or foreign embed: the default applies
    return values


def result_embed(
    result: DreamResult,
    params: DreamParams,
    *,
    requester_id: int,
    job_id: str,
    queue_s: float,
    with_source: str | None = None,  # the source attachment's name
    notes: Iterable[str] = (),
    units: int = 1,
) -> discord.Embed:
    """The settings of a finished dream; enough to dream it again after a restart."""
    embed = discord.Embed(title=EMBED_TITLE, description=f"Dreamed for <@{requester_id}>")
    embed.add_field(name="Model", value=result.model)
    if params.target_class:
        embed.add_field(name="Class", value=params.target_class)
    else:
        embed.add_field(name="Layer", value=f"`{params.layer}`")
    embed.add_field(name="Seed", value=str(result.seed))
    embed.add_field(name=SETTINGS_FIELD, value=settings_line(params), inline=False)
    size = f"{result.width}×{result.height}"
    embed.add_field(
        name="Size", value=size + (f", {result.frames} frames" if result.frames > 1 else "")
    )
    time = f"{result.seconds:.1f} s" + (f" (+{queue_s:.0f} s queued)" if queue_s >= 1 else "")
    embed.add_field(name="Time", value=time)
    if units > 1:
        embed.add_field(name="Cost", value=f"{dreams(units)} (an animation)")
    all_notes = [*result.notes, *notes]
    if all_notes:
        embed.add_field(name="Notes", value="\n".join(all_notes)[:1000], inline=False)
    embed.set_image(url=f"attachment://{result_filename(result)}")
    if with_source:
        embed.set_thumbnail(url=f"attachment://{with_source}")  # "before"
    embed.set_footer(text=f"job {job_id}")
    return embed


def job_id_of(embed: discord.Embed) -> str | None:
    """The job a result embed was made for (its footer), to find its ledger row."""
    match = _JOB_FOOTER.fullmatch(embed.footer.text or "")
    return match[1] if match else None


def _field(embed: discord.Embed, name: str) -> str | None:
    for field in embed.fields:
        if field.name == name:
            return field.value
    return None


def params_from_embed(embed: discord.Embed, **overrides: object) -> DreamParams:
    """Rebuild a result's DreamParams from its embed (raises InvalidParams if it is not ours)."""
    values: dict[str, object] = {}
    model = _field(embed, "Model")
    layer = _field(embed, "Layer")
    target_class = _field(embed, "Class")
    seed = _field(embed, "Seed")
    if model:
        values["model"] = model.strip()
    if target_class:
        values["target_class"] = target_class.strip()
    elif layer:
        values["layer"] = layer.strip().strip("`")
    if seed and seed.strip().isdecimal():  # isdigit() passes "²", which int() refuses
        values["seed"] = int(seed)
    values.update(read_settings(_field(embed, SETTINGS_FIELD) or ""))
    values.update(overrides)
    return make_params(**values)


def legacy_input_url(embed: discord.Embed) -> str | None:
    """Results from before the source was attached kept the input's CDN link as the thumbnail."""
    url = embed.thumbnail.url if embed.thumbnail else None
    return url if url and url.startswith(("http://", "https://")) else None


def is_result_embed(embed: discord.Embed) -> bool:
    return embed.title == EMBED_TITLE and _field(embed, "Model") is not None


def attachment_named(message: discord.Message, prefix: str) -> discord.Attachment | None:
    """A result's attachment by the start of its name (`dream.`, `source.`, `guide.jpg`),
    whether or not it was posted as a spoiler."""
    for attachment in message.attachments:
        if attachment.filename.removeprefix(SPOILER).startswith(prefix):
            return attachment
    return None


def result_embed_of(message: discord.Message) -> discord.Embed | None:
    return next((e for e in message.embeds if is_result_embed(e)), None)
