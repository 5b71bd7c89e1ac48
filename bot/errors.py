"""The bot's own errors, and the one place where any exception becomes text for a Discord user.

Rule: a user sees a short sentence, never a traceback, path, token or internal detail. Errors of
the pool/engine infrastructure get a fixed sentence here (their messages are for operators' logs).
"""

from __future__ import annotations

from dreamcore.errors import DownloadFailed as DownloadFailed  # re-exported: dreamcore.links
from dreamcore.errors import (
    DreamCancelled,
    DreamError,
    JobTimeout,
    NoWorkers,
    OutOfMemory,
    PoolClosed,
    QueueFull,
    QueueTimeout,
    WeightsUnavailable,
    WorkerCrashed,
)


class QuotaExceeded(DreamError):
    code = "quota_exceeded"
    REASONS = (
        "user_daily",
        "user_concurrent",
        "guild_daily",
        "guild_concurrent",
        "cooldown",
        "other",
    )

    def __init__(self, message: str, reason: str = "other") -> None:
        super().__init__(message)
        self.reason = reason  # which limit refused it (a metrics label)


class NotAllowedHere(DreamError):
    """The bot is not enabled in this channel."""

    code = "not_allowed_here"


class NoImageFound(DreamError):
    code = "no_image"


class NotPermitted(DreamError):
    """An admin command used by someone without Manage Server."""

    code = "not_permitted"


class Busy(DreamError):
    """Too much is being fetched or held right now (per user, or for the whole bot)."""

    code = "busy"


MAX_MESSAGE_CHARS = 400  # a DreamError message longer than this is not user text


def user_message(err: BaseException, *, job_id: str | None = None) -> str:
    """A friendly sentence for `err`; unexpected errors only get a job reference."""
    ref = f" (job `{job_id}`)" if job_id else ""
    if isinstance(err, QueueFull):
        count = f" ({err.waiting} waiting)" if err.waiting is not None else ""
        return f"The dream queue is full right now{count}; try again in a few minutes."
    if isinstance(err, QueueTimeout):
        return "Your dream waited too long for a free worker and was dropped; it was not counted."
    if isinstance(err, NoWorkers):
        return "The dream workers are down right now; nothing was counted. Try again later."
    if isinstance(err, JobTimeout):
        return "Your dream took too long and was stopped; try a smaller image or fewer steps."
    if isinstance(err, WorkerCrashed):
        return f"The dream worker crashed while working on your image{ref}; please try again."
    if isinstance(err, OutOfMemory):
        return f"Not enough memory to dream this one{ref}; try a smaller max size or image."
    if isinstance(err, WeightsUnavailable):
        return "That model isn't available on this bot right now; try another model."
    if isinstance(err, PoolClosed):
        return "The bot is restarting; try again in a minute."
    if isinstance(err, DreamCancelled):
        return "Dream cancelled."
    if isinstance(err, DreamError):
        text = str(err).strip()
        if text and len(text) <= MAX_MESSAGE_CHARS and "Traceback" not in text:
            return text
    return f"Something went wrong on our side{ref}."
