"""What one worker holds, in either worker set: up to `capacity` jobs at once (a local process's
supervisor.Worker and a Ray fleet's Actor are both a JobHolder), and a kill timer for each job it
was asked to drop. The sets pick workers and count places with the functions below, so the local
processes and the Ray actors fill up, and are waited for, the same way.

Runs on the event loop thread, like the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from dreamcore.pool.jobs import Job
from dreamcore.pool.timers import cancel_timer

WorkerState = Literal["starting", "idle", "busy", "dead"]  # busy: holds at least one job


@dataclass(eq=False, kw_only=True)
class JobHolder:
    capacity: int = 1  # dreams it holds at once (a GPU worker steps them together)
    state: WorkerState = "starting"
    jobs: dict[str, Job] = field(default_factory=dict)  # by id
    kills: dict[str, asyncio.TimerHandle] = field(default_factory=dict)  # cancel grace, by job id
    # Killed by its set for ignoring a cancel: the jobs beside the stuck one did nothing wrong,
    # so they run again elsewhere rather than count as crashed (read before drop_all).
    spared: bool = False

    @property
    def up(self) -> bool:
        return self.state in ("idle", "busy")

    @property
    def room(self) -> int:
        """How many more jobs it takes now (0 unless it is up)."""
        return self.capacity - len(self.jobs) if self.up else 0

    def holding(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def holds(self, job: Job) -> bool:
        return self.jobs.get(job.id) is job

    def hold(self, job: Job) -> None:
        """Count `job` as one of this worker's (it has room)."""
        self.state, self.jobs[job.id] = "busy", job

    def release(self, job: Job) -> None:
        """The worker reported back on `job`: its place may take the next one."""
        self.jobs.pop(job.id, None)
        cancel_timer(self.kills.pop(job.id, None))
        if not self.jobs and self.state == "busy":
            self.state = "idle"

    def kill_unless_dropped(self, job: Job, grace: float, kill: Callable[[], None]) -> None:
        """Call `kill` after `grace` if this worker still holds `job` then (it ignored a cancel):
        the jobs it holds beside it go back to the queue, first in line (`spared`)."""
        cancel_timer(self.kills.get(job.id))
        loop = asyncio.get_running_loop()
        self.kills[job.id] = loop.call_later(grace, self._kill_if_holding, job, kill)

    def _kill_if_holding(self, job: Job, kill: Callable[[], None]) -> None:
        if self.holds(job):
            self.spared = True
            kill()

    def drop_all(self) -> list[Job]:
        """The worker is gone: forget its jobs and kill timers; the jobs it held, for the pool to
        requeue or fail."""
        for timer in self.kills.values():
            cancel_timer(timer)
        held, self.jobs, self.kills = list(self.jobs.values()), {}, {}
        self.spared = False
        return held


H = TypeVar("H", bound=JobHolder)


def most_room(workers: Iterable[H | None]) -> H | None:
    """The worker with the most room (the least loaded first), or None when all are full."""
    ready = [w for w in workers if w is not None and w.room > 0]
    return max(ready, key=lambda w: w.room, default=None)


def places_of(workers: Iterable[JobHolder]) -> int:
    """Jobs the workers that are up can hold at once (for wait estimates)."""
    return sum(w.capacity for w in workers if w.up)
