"""Where a job's progress goes while it waits and runs: a status line on its answer, throttled.

The runner (bot/jobs.py) tells a `Progress` what happens (queued, started, a step further); the
publisher (bot/publisher.py) hands out the `Progress` of each job, drawn on the answer's one
status line: the job's own, with its preview and Cancel, or one line for every image of a
message, each part's first line in it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

import discord

from bot.delivery import Answer
from bot.replies import IMAGE_PART, batch_status_text, progress_text, queued_text, starting_text
from dreamcore.request import DreamProgress

log = logging.getLogger(__name__)


class Progress(Protocol):
    def queued(self, position: int, wait_s: float | None) -> None: ...
    def started(self) -> None: ...
    def advanced(self, progress: DreamProgress) -> None: ...
    async def close(self) -> None: ...


class StatusLine:
    """At most one status edit per `interval`, and the newest one always shows: an update that
    arrives too soon is sent when the interval is over (so the last progress and its preview
    appear even if the job then goes quiet for a while)."""

    def __init__(
        self,
        answer: Answer,
        interval: float,
        clock=time.monotonic,
        view: discord.ui.View | None = None,
        spoiler: bool = False,
    ) -> None:
        self._answer, self._interval, self._clock = answer, interval, clock
        self._view = view  # controls under the status (Cancel), sent with the first update
        self._spoiler = spoiler  # previews of a hidden answer are hidden too
        self._last = float("-inf")
        self._pending: tuple[str, bytes | None] | None = None
        self._wake = asyncio.Event()
        self._sending: asyncio.Task | None = None
        self._task = asyncio.create_task(self._run(), name="dream-status")

    def show(self, text: str, preview: bytes | None = None) -> None:
        if self._pending is not None and preview is None:
            preview = self._pending[1]  # an unsent preview survives a newer text
        self._pending = (text, preview)
        self._wake.set()

    async def close(self) -> None:
        """Drop what is pending; let an edit already on its way land first (so it cannot land
        after, and overwrite, the result)."""
        self._pending = None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last + self._interval - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._pending is None:
                continue
            (text, preview), self._pending = self._pending, None
            self._last = self._clock()
            # shielded: closing this loop must not cut an edit off half-sent
            self._sending = asyncio.ensure_future(self._send(text, preview))
            await asyncio.shield(self._sending)

    async def _send(self, text: str, preview: bytes | None) -> None:
        try:
            await self._answer.status(text, preview, self._view, spoiler=self._spoiler)
            self._view = None  # it stays on the message
        except Exception:  # answers swallow their own errors; belt and braces
            log.exception("status update failed")


class LineProgress:
    """One job's progress on a status line of its own, previews included."""

    def __init__(self, line: StatusLine) -> None:
        self.line = line

    def queued(self, position: int, wait_s: float | None) -> None:
        self.line.show(queued_text(position, wait_s))

    def started(self) -> None:
        self.line.show(starting_text())

    def advanced(self, progress: DreamProgress) -> None:
        self.line.show(progress_text(progress), progress.preview)

    async def close(self) -> None:
        await self.line.close()


class SharedLine:
    """One status line for several jobs (a message's images): each part's first line."""

    def __init__(self, line: StatusLine, parts: int, noun: str = IMAGE_PART) -> None:
        self.line = line
        self.texts = ["waiting"] * parts
        self.noun = noun  # "Image 2", or "Variant 2"

    def part(self, index: int) -> PartProgress:
        return PartProgress(self, index)

    def show(self, index: int, text: str) -> None:
        self.texts[index] = text.splitlines()[0]  # no previews: they would be several
        self.line.show(batch_status_text(self.texts, self.noun))

    async def close(self) -> None:
        await self.line.close()


class PartProgress:
    """One part's progress in a shared line; the line closes with the combined answer."""

    def __init__(self, shared: SharedLine, index: int) -> None:
        self.shared, self.index = shared, index

    def queued(self, position: int, wait_s: float | None) -> None:
        self.shared.show(self.index, queued_text(position, wait_s))

    def started(self) -> None:
        self.shared.show(self.index, starting_text())

    def advanced(self, progress: DreamProgress) -> None:
        self.shared.show(self.index, progress_text(progress))

    async def close(self) -> None:
        return None
