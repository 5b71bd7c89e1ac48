"""What the bot says to users: status lines, refusals, notes, admin answers, help. All user
wording lives here (errors become text in `bot.errors.user_message`); the result message's layout
(its embed and files) is bot/layout.py's.

Pure functions (no I/O), so every wording is unit-tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import discord

from dreamcore.catalog import model_info
from dreamcore.request import DreamProgress

BAR_WIDTH = 12

# --- while a dream runs -----------------------------------------------------------------------


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def about(seconds: float) -> str:
    """A wait, rounded the way people say it."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    return f"about {duration(round(seconds / 60) * 60)}"


def queued_text(position: int, wait_s: float | None = None) -> str:
    estimate = f", {about(wait_s)}" if wait_s is not None else ""
    if position <= 1:
        return f"⏳ Queued: you are next in line{estimate}."
    return f"⏳ Queued: {ordinal(position)} in line{estimate}."


def starting_text() -> str:
    return "🌀 Dreaming… warming up."


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


def progress_text(progress: DreamProgress) -> str:
    fraction = progress.fraction
    frame = f"frame {progress.frame}/{progress.frames} · " if progress.frames else ""
    return (
        f"🌀 Dreaming… {frame}octave {progress.octave}/{progress.octaves} · "
        f"step {progress.step}/{progress.steps}\n`{progress_bar(fraction)}` {fraction:.0%}"
    )


IMAGE_PART, VARIANT_PART = "Image", "Variant"  # what a request's several parts are called


def part_text(index: int, text: str, noun: str = IMAGE_PART) -> str:
    """One part's line in an answer about several (its status, or why it failed)."""
    return f"{noun} {index}: {text}"


def batch_status_text(parts: list[str], noun: str = IMAGE_PART) -> str:
    return "\n".join(part_text(i, text, noun) for i, text in enumerate(parts, 1))


TOO_LARGE = "The dream came out too large to upload here; try a smaller size or fewer frames."
TOKEN_EXPIRED = (
    "Your dream waited longer than Discord lets me answer here (15 minutes); it was not counted."
)


def guide_failed_text(reason: str) -> str:
    return f"The guide image: {reason}"


def ready_text(requester_id: int) -> str:
    return f"<@{requester_id}> your dream is ready."


def lost_after_restart_text(user_id: int, job_id: str) -> str:
    return (
        f"<@{user_id}> I restarted while your dream `{job_id}` was in progress, so it was lost. "
        "It was not counted against your quota; please ask again."
    )


# --- refusals -----------------------------------------------------------------------------------


def channel_list(channel_ids: Iterable[int]) -> str:
    return ", ".join(f"<#{c}>" for c in channel_ids)


def not_allowed_here_text(channels: str) -> str:
    return f"Dreams are made in {channels} on this server."


def dreams(n: int) -> str:
    return f"{n} dream" if n == 1 else f"{n} dreams"


def duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def next_midnight(now: float) -> datetime:
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


def reset_text(now: float) -> str:
    return f"more at 00:00 UTC (in {duration(next_midnight(now).timestamp() - now)})"


def user_daily_text(limit: int, now: float) -> str:
    return f"You've used your {dreams(limit)} for today; {reset_text(now)}."


def costs_more_text(units: int, left: int) -> str:
    return (
        f"That costs {dreams(units)} and you have {dreams(left)} left today; ask for fewer frames."
    )


def user_concurrent_text(running: int) -> str:
    return f"You already have {dreams(running)} running; wait for one to finish."


def guild_daily_text(limit: int, now: float) -> str:
    return f"This server has used its {dreams(limit)} for today; {reset_text(now)}."


def guild_concurrent_text(running: int) -> str:
    return f"This server already has {dreams(running)} running; try again when one finishes."


def cooldown_text(wait_s: float) -> str:
    return f"Slow down a little: you can dream again in {duration(wait_s)}."


def downloads_busy_text() -> str:
    return "I'm still fetching your other images; try again in a moment."


def bot_busy_text() -> str:
    return "Too many images are waiting to be dreamed right now; try again in a few minutes."


# what to dream: an attachment or a link (how a link is refused: dreamcore.links, shared with
# the command line)
IMAGE_TYPES = "attach a PNG, JPEG, GIF or WebP image, or an MP4, WebM or MOV video"
NONE_ARE_IMAGES = f"None of those attachments is an image; {IMAGE_TYPES}."
NO_IMAGE_FOUND = f"I couldn't find an image there; {IMAGE_TYPES}."


def not_an_image_text(what: str) -> str:
    return f"{what} isn't an image; {IMAGE_TYPES}."


ONLY_DISCORD_IMAGES = "I can only fetch images uploaded to Discord."
LINKS_OFF = "Dreaming links is turned off on this bot; attach the image instead."
IMAGE_OR_LINK = "Give an image or a link, not both."

# what to dream when /dream is given neither: the channel's last image (bot/recent.py)
HISTORY_NOT_HERE = (
    "I can't read this channel's messages from here; attach the image (`image:`) or give a link "
    "to it (`url:`)."
)
HISTORY_NO_PERMISSION = (
    "I need the **Read Message History** permission here to find the last image; attach it "
    "(`image:`) or give a link to it (`url:`)."
)
HISTORY_UNREADABLE = (
    "I couldn't read this channel's recent messages just now; attach the image (`image:`) or "
    "give a link to it (`url:`)."
)


def no_recent_image_text(limit: int) -> str:
    return (
        f"I found no image in the last {limit} messages here; attach one (`image:`) or give a "
        "link to one (`url:`)."
    )


def last_image_note(author_mention: str, jump_url: str) -> str:
    return f"Dreamed [the image]({jump_url}) posted by {author_mention}."


# "Dream avatar" (bot/avatars.py)
def no_avatar_text(mention: str) -> str:
    return (
        f"{mention} has no avatar of their own (only Discord's default), so there's nothing "
        "to dream."
    )


def avatar_note(mention: str, *, server: bool) -> str:
    return f"Dreamed {mention}'s {'server ' if server else ''}avatar."


MESSAGE_GONE = "That message is gone."
DREAM_IMAGE_GONE = "That dream's image is gone."
UNREADABLE_SETTINGS = "I can't read that dream's settings."
VARIANT_FORGOTTEN = (
    "I can't find that variant's settings (my records may have been reset), so I can't dream "
    "it again from here: run /dream on its image instead."
)
ONLY_REQUESTER_DELETES = (
    "Only the person who asked for this dream, or a server manager, can delete it."
)
ALREADY_DELETED = "That dream was already deleted."
ONLY_REQUESTER_CANCELS = (
    "Only the person who asked for this dream, or a server manager, can cancel it."
)
ALREADY_FINISHED = "That dream has already finished."
CANNOT_DELETE = "I'm not allowed to delete that message here."
SOURCE_GONE_NOTE = "The original image is gone, so this one dreamed the result instead."
GUIDE_GONE_NOTE = "The guide image is gone, so this one was dreamed without it."
SOURCE_LEFT_OUT_NOTE = (
    "The original didn't fit beside the dream under the upload limit here, "
    "so Re-roll will dream this result instead."
)
GUIDE_LEFT_OUT_NOTE = (
    "The guide didn't fit beside the dream under the upload limit here, "
    "so Deeper and Re-roll will dream without it."
)
VARIANTS_SOURCE_LEFT_OUT_NOTE = (
    "The original didn't fit beside the dreams under the upload limit here, "
    "so Edit will dream the variant itself instead."
)
VARIANTS_GUIDE_LEFT_OUT_NOTE = (
    "The guide didn't fit beside the dreams under the upload limit here, "
    "so Deeper and Edit will dream without it."
)


# --- /queue and /dreams ------------------------------------------------------------------------


def job_line(
    job_id: str, target: str, state: str, position: int | None, done: float, wait_s: float | None
) -> str:
    if state == "queued":
        where = f"{ordinal(position or 1)} in line" + (f", {about(wait_s)}" if wait_s else "")
    else:
        where = f"dreaming, {done:.0%} done"
    return f"• `{job_id}` {target}: {where}"


def queue_text(lines: list[str], waiting: int, workers: int) -> str:
    mine = "\n".join(lines) if lines else "You have no dreams waiting or running."
    return f"{mine}\nIn the queue: {waiting} waiting · workers: {workers}."


def history_text(rows: list) -> str:
    """A user's recent dreams: when, a link, what, the seed (to dream it again)."""
    if not rows:
        return "You have no finished dreams yet."
    lines = []
    for row in rows:
        when = f"<t:{int(row.finished_at or row.created_at)}:R>"
        link = f"[open]({row.result_url})" if row.result_url else "(no link)"
        seed = f" · seed {row.seed}" if row.seed is not None else ""
        lines.append(f"• {when} {link} · {row.model} `{row.layer}`{seed}")
    return "**Your recent dreams**\n" + "\n".join(lines)


# --- admin --------------------------------------------------------------------------------------

ADMIN_ONLY = "Only members with **Manage Server** can change dream settings."
GIVE_A_LIMIT = "Give `daily`, `concurrent` or both."
RULE_REMOVED = "Rule removed."
NO_SUCH_RULE = "There was no such rule."


def scope_needs_target(scope: str) -> str:
    return f"Scope `{scope}` needs the `{scope}` option."


def limit_text(value: int | None) -> str:
    return "unlimited" if not value else str(value)


def rule_line(scope: str, target_id: int, daily: int | None, concurrent: int | None) -> str:
    who = {"server": "server", "role": f"<@&{target_id}>", "user": f"<@{target_id}>"}[scope]
    parts = []
    if daily is not None:
        parts.append(f"daily {limit_text(daily)}")
    if concurrent is not None:
        parts.append(f"concurrent {limit_text(concurrent)}")
    return f"• {who}: " + (", ".join(parts) or "inherits")


def rule_saved_text(line: str) -> str:
    return f"Quota rule saved:\n{line}"


def quota_defaults_text(user_daily: int, user_conc: int, guild_daily: int, guild_conc: int) -> str:
    return (
        f"Defaults: per user daily {limit_text(user_daily)}, concurrent {limit_text(user_conc)}; "
        f"server daily {limit_text(guild_daily)}, concurrent {limit_text(guild_conc)}."
    )


def quota_show_text(lines: list[str], defaults: str) -> str:
    return "\n".join([*(lines or ["No rules set."]), defaults])[:1990]


def quota_me_text(
    *,
    remaining: int | None,
    daily_limit: int | None,
    used_today: int,
    in_flight: int,
    concurrent_limit: int | None,
    resets_at: datetime,
    limit_source: str,
    frames_per_dream: int = 4,
) -> str:
    if daily_limit is None:
        line = f"You have dreamed {used_today} times today; no daily limit here."
    else:
        line = f"You have **{remaining}** of {daily_limit} dreams left today."
    at_once = f" (at most {concurrent_limit} at once)" if concurrent_limit else ""
    resets = discord.utils.format_dt(resets_at, "R")
    return (
        f"{line}\nRunning or queued: {in_flight}{at_once}"
        f"\nThe daily count resets {resets}. Limits from: {limit_source}."
        f"\nA still costs 1 dream; an animation 1 + 1 per {frames_per_dream} frames "
        "after the first."
    )


def dreamconfig_text(lines: Iterable[tuple[str, str]]) -> str:
    """/dreamconfig's answer: each setting's (label, value) line, as its declaration shows it."""
    return "\n".join(f"{label}: {value}" for label, value in lines)


# --- help ---------------------------------------------------------------------------------------


def help_text(models: list[str]) -> str:
    lines = [
        "**/dream** `image:` a picture, then optionally:",
        "• `layer:` what to dream (autocompleted); `mixed4d:139` one channel; "
        "`mixed4c+mixed4d*0.5` a weighted mix",
        "• `preset:` classic, textures, creatures, objects, smooth · `model:` " + ", ".join(models),
        "• `guide:` an image whose shapes the dream borrows · `class:` a thing, e.g. `banana`",
        "• `smooth:` 1-8, softer and more colourful · `colors:original` keeps the photo's colours",
        "• `octaves:` `steps:` `strength:` `jitter:` `seed:` `size:` the classic knobs",
        "• `animate:` zoom, spin or pan · `frames:` how many (1 dream + 1 per 4 frames); "
        "animated uploads come back animated · `spoiler:` hide the result · `variants:` 2-4 "
        "different dreams of it in one reply",
        "Buttons: **Dream deeper**, **Re-roll** (new layer and seed), **Animate**, **Edit** (a "
        "form of its settings), **Delete**; "
        "**Cancel** while it waits. Apps → **Dream this image** dreams every image of a message. "
        "React 🌀 to re-dream. `/queue`: your dreams on their way; `/dreams`: your recent ones.",
        "Installed to your account, `/dream` works in DMs and any server, with your own daily "
        "quota; reactions only work in servers the bot is in.",
        "",
    ]
    info = model_info(models[0])  # the default model's layers; the others autocomplete
    looks = [f"`{layer.name}` {layer.description}" for layer in info.layers if layer.description]
    lines.append(f"**{info.name}**: " + ", ".join(looks))
    return "\n".join(lines)[:1990]


# --- the Edit form (bot/edit.py) ------------------------------------------------------------

EDIT_TITLE = "Edit this dream"
EDIT_LAYER = "Layer or mix"
EDIT_LAYER_HINT = "e.g. mixed4c, mixed4c:97, or a mix like mixed4c+mixed4d:139*0.5"
EDIT_NUMBERS = "Strength, steps, octaves"
EDIT_NUMBERS_HINT = "three numbers: strength up to 10, steps 1-100, octaves 1-8"
EDIT_SEED = "Seed"
EDIT_SEED_HINT = "empty: a new random seed"
EDIT_SMOOTH = "Smooth"
EDIT_SMOOTH_HINT = "Laplacian levels: 0 is classic DeepDream, more is softer"
EDIT_COLOURS = "Colours"
EDIT_COLOURS_CHOICES = {"dream": "the dream's own", "original": "the original's"}
EDIT_NUMBERS_BAD = "Strength, steps, octaves: give three numbers, like `1.5, 10, 4`."
EDIT_SEED_BAD = "Seed: a whole number, or empty for a random one."
EDIT_FORM_GONE = "That form is no longer open here; click Edit again."


def changed_note(changes: Iterable[tuple[str, object, object]]) -> str:
    """What an edit changed, e.g. `changed: steps 10 → 20, seed 7 → random`."""
    shown = [f"{name} {_shown(old)} → {_shown(new)}" for name, old, new in changes]
    return "changed: " + (", ".join(shown) if shown else "nothing (the same settings again)")


def _shown(value: object) -> str:
    return "random" if value is None else str(value)
