"""What the bot says: status lines, the result embed, and reading settings back from that embed.

Pure functions (no I/O), so every wording is unit-tested. The result embed doubles as durable state:
buttons clicked after a restart read the dream's settings (and the input's URL) back from it.
"""

from __future__ import annotations

import re

import discord

from dreamcore.catalog import model_info
from dreamcore.request import DreamParams, DreamProgress, DreamResult, make_params

BAR_WIDTH = 12
EMBED_TITLE = "DeepDream"
SETTINGS_FIELD = "Settings"
_SETTINGS_RE = re.compile(
    r"octaves (?P<octaves>\d+) · steps (?P<steps>\d+) · strength (?P<strength>[\d.]+)"
    r" · jitter (?P<jitter>\d+) · max side (?P<max_side>\d+)"
)


def queued_text(position: int) -> str:
    if position <= 1:
        return "⏳ Queued: you are next in line."
    return f"⏳ Queued: position {position} in line."


def starting_text() -> str:
    return "🌀 Dreaming… warming up."


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


def progress_text(progress: DreamProgress) -> str:
    fraction = progress.fraction
    return (
        f"🌀 Dreaming… octave {progress.octave}/{progress.octaves} · "
        f"step {progress.step}/{progress.steps}\n`{progress_bar(fraction)}` {fraction:.0%}"
    )


def result_filename(result: DreamResult) -> str:
    ext = "jpg" if result.format == "jpeg" else result.format
    return f"dream.{ext}"


def settings_line(params: DreamParams) -> str:
    return (
        f"octaves {params.octaves} · steps {params.steps} · strength {params.strength:g}"
        f" · jitter {params.jitter} · max side {params.max_side}"
    )


def result_embed(
    result: DreamResult,
    params: DreamParams,
    *,
    requester_id: int,
    job_id: str,
    queue_s: float,
    input_url: str | None = None,
) -> discord.Embed:
    """The settings of a finished dream; enough to dream it again after a restart."""
    embed = discord.Embed(title=EMBED_TITLE, description=f"Dreamed for <@{requester_id}>")
    embed.add_field(name="Model", value=result.model)
    embed.add_field(name="Layer", value=f"`{result.target}`")
    embed.add_field(name="Seed", value=str(result.seed))
    embed.add_field(name=SETTINGS_FIELD, value=settings_line(params), inline=False)
    embed.add_field(name="Size", value=f"{result.width}×{result.height}")
    time = f"{result.seconds:.1f} s" + (f" (+{queue_s:.0f} s queued)" if queue_s >= 1 else "")
    embed.add_field(name="Time", value=time)
    if result.notes:
        embed.add_field(name="Notes", value="\n".join(result.notes)[:1000], inline=False)
    embed.set_image(url=f"attachment://{result_filename(result)}")
    if input_url and input_url.startswith(("http://", "https://")):
        embed.set_thumbnail(url=input_url)  # shows "before", and lets Re-roll find the input
    embed.set_footer(text=f"job {job_id}")
    return embed


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
    seed = _field(embed, "Seed")
    settings = _SETTINGS_RE.search(_field(embed, SETTINGS_FIELD) or "")
    if model:
        values["model"] = model.strip()
    if layer:
        values["layer"] = layer.strip().strip("`")
    if seed and seed.strip().isdigit():
        values["seed"] = int(seed)
    if settings:
        values.update(
            octaves=int(settings["octaves"]),
            steps=int(settings["steps"]),
            strength=float(settings["strength"]),
            jitter=int(settings["jitter"]),
            max_side=int(settings["max_side"]),
        )
    values.update(overrides)
    return make_params(**values)


def input_url_from_embed(embed: discord.Embed) -> str | None:
    return embed.thumbnail.url if embed.thumbnail and embed.thumbnail.url else None


def is_result_embed(embed: discord.Embed) -> bool:
    return embed.title == EMBED_TITLE and _field(embed, "Model") is not None


def ready_text(requester_id: int) -> str:
    return f"<@{requester_id}> your dream is ready."


def lost_after_restart_text(user_id: int, job_id: str) -> str:
    return (
        f"<@{user_id}> I restarted while your dream `{job_id}` was in progress, so it was lost. "
        "It was not counted against your quota; please ask again."
    )


def help_text(models: list[str]) -> str:
    lines = [
        "**/dream** `image:` a picture, then optionally:",
        "• `layer:` what to dream (autocompleted; `layer:channel` picks one channel, e.g. `mixed4d:139`)",
        "• `preset:` classic, textures, creatures or objects (picks a layer for you)",
        "• `model:` " + ", ".join(models),
        "• `octaves:` scales to dream at (more = bigger patterns) · `steps:` per octave",
        "• `strength:` step size · `jitter:` random shift per step · `seed:` repeatable results",
        "• `size:` longest side of the result",
        "Buttons under a dream: **Dream deeper** (dream the result again), **Re-roll** "
        "(another layer and seed), **Delete**. Right-click an image → Apps → **Dream this image**.",
        "",
    ]
    for name in models:
        info = model_info(name)
        looks = [
            f"`{layer.name}` {layer.description}" for layer in info.layers if layer.description
        ]
        lines.append(f"**{info.name}**: " + ", ".join(looks))
    return "\n".join(lines)[:1990]
