"""The Job handle the asyncio side holds: state, queue position, event fan-out, result.

A Job is only touched from the event loop thread; the pool drives its transitions.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from dreamcore.errors import DreamError
from dreamcore.pool.messages import new_job_id
from dreamcore.request import DreamProgress, DreamRequest, DreamResult

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
EventKind = Literal["queued", "started", "progress", "done", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"done", "failed", "cancelled"})


@dataclass(frozen=True)
class JobEvent:
    kind: EventKind
    job_id: str
    position: int | None = None
    progress: DreamProgress | None = None
    result: DreamResult | None = None
    error: DreamError | None = None


class _Feed:
    """One consumer's buffer. Progress is coalesced so a slow consumer only sees the latest step."""

    def __init__(self) -> None:
        self._items: deque[JobEvent] = deque()
        self._wake = asyncio.Event()

    def put(self, event: JobEvent) -> None:
        if event.kind == "progress" and self._items and self._items[-1].kind == "progress":
            older = self._items[-1].progress
            if event.progress is not None and older is not None:  # keep an unread preview
                event = dataclasses.replace(
                    event, progress=event.progress.keeping_preview_of(older)
                )
            self._items[-1] = event
        else:
            self._items.append(event)
        self._wake.set()

    async def get(self) -> JobEvent:
        while not self._items:
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()


class Job:
    def __init__(
        self, request: DreamRequest, job_id: str | None, on_cancel: Callable[[Job], None]
    ) -> None:
        self.id: str = job_id or new_job_id()
        self.request = request
        self.state: JobState = "queued"
        self.position: int | None = None
        self.worker_pid: int | None = None  # pid of the process running it (for ops and tests)
        self.attempts = 0
        self.started_at: float | None = None
        self._on_cancel = on_cancel
        self._state_event = JobEvent("queued", self.id)
        self._last_progress: JobEvent | None = None
        self._feeds: list[_Feed] = []
        self._finished = asyncio.Event()
        self._result: DreamResult | None = None
        self._error: DreamError | None = None

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.state} position={self.position}>"

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    # --- consumer side ---------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[JobEvent]:
        """Every event from now on, starting with the current state; ends after the terminal one."""
        feed = _Feed()
        feed.put(self._state_event)
        if self.state == "running" and self._last_progress is not None:
            feed.put(self._last_progress)
        if not self.finished:
            self._feeds.append(feed)
        try:
            while True:
                event = await feed.get()
                yield event
                if event.kind in TERMINAL:
                    return
        finally:
            if feed in self._feeds:
                self._feeds.remove(feed)

    async def result(self) -> DreamResult:
        await self._finished.wait()
        if self._error is not None:
            raise self._error.with_traceback(None)
        assert self._result is not None
        return self._result

    async def wait_finished(self) -> None:
        """Wait for the terminal state without raising its error."""
        await self._finished.wait()

    def cancel(self) -> None:
        if not self.finished:
            self._on_cancel(self)

    # --- pool side -------------------------------------------------------------------------------

    def _emit(self, event: JobEvent) -> None:
        if event.kind == "progress":
            self._last_progress = event
        else:
            self._state_event = event
        for feed in self._feeds:
            feed.put(event)

    def set_queued(self, position: int) -> None:
        if self.state == "queued" and self.position == position:
            return
        self.state, self.position = "queued", position
        self._emit(JobEvent("queued", self.id, position=position))

    def set_running(self, pid: int | None, now: float) -> None:
        self.state, self.position, self.worker_pid, self.started_at = "running", 0, pid, now
        self.attempts += 1
        self._last_progress = None
        self._emit(JobEvent("started", self.id, position=0))

    def set_progress(self, progress: DreamProgress) -> None:
        self._emit(JobEvent("progress", self.id, position=0, progress=progress))

    def finish(self, result: DreamResult) -> None:
        self.state, self.position, self._result = "done", None, result
        self._emit(JobEvent("done", self.id, result=result))
        self._finished.set()

    def fail(self, error: DreamError, *, cancelled: bool = False) -> None:
        self.state = "cancelled" if cancelled else "failed"
        self.position, self._error = None, error
        self._emit(JobEvent(self.state, self.id, error=error))
        self._finished.set()
