"""The interface the bot talks to (DreamBackend): LocalPool (worker processes on this machine) and
RayBackend (actors on a Ray cluster) implement it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from dreamcore.request import DreamRequest

if TYPE_CHECKING:
    from dreamcore.pool.jobs import Job


@dataclass(frozen=True)
class PoolStats:
    workers_total: int
    workers_alive: int
    workers_busy: int
    queue_depth: int
    jobs_done: int
    jobs_failed: int
    jobs_cancelled: int
    jobs_timed_out: int
    worker_restarts: int
    mean_job_seconds: float | None
    workers_down_s: float | None = None  # how long no worker has been alive (None: some are)
    places: int = 0  # dreams the live workers hold at once (several per GPU worker)


@runtime_checkable
class DreamBackend(Protocol):
    async def start(self) -> None: ...

    def submit(self, request: DreamRequest, *, job_id: str | None = None) -> Job:
        """Queue a dream without blocking; raises QueueFull or PoolClosed."""
        ...

    def stats(self) -> PoolStats: ...

    async def close(self, timeout: float | None = None) -> None:
        """Refuse new jobs, let running ones finish until the deadline, answer every waiter."""
        ...

    async def __aenter__(self) -> DreamBackend: ...

    async def __aexit__(self, *exc: object) -> None: ...
