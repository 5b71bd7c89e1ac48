"""The dreams on their way: an order submitted to the backend, its events pumped into a progress
sink until its result, and the registry of live jobs that /queue, Cancel and the wait estimate
read.

Any way out of `run` before the result cancels the job in the backend (nobody would read it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.estimates import QueueEstimates
from bot.ledger import Ticket
from bot.order import Order
from bot.progress import Progress
from dreamcore.pool import DreamBackend, Job
from dreamcore.request import DreamRequest, DreamResult


@dataclass
class Timing:
    """When an order was accepted and its dream started (monotonic seconds)."""

    accepted: float
    started: float | None = None

    def queue_s(self, now: float) -> float:
        return (self.started or now) - self.accepted

    def run_s(self, now: float) -> float:
        return now - self.started if self.started is not None else 0.0


@dataclass
class LiveJob:
    """A job on its way: what the queue estimate and /queue read."""

    job_id: str
    order: Order
    job: Job
    timing: Timing
    done: float = 0.0  # the fraction of the dream made


class JobRunner:
    def __init__(self, backend: DreamBackend, clock=time.monotonic) -> None:
        self.backend = backend
        self.estimates = QueueEstimates()
        self.live: dict[str, LiveJob] = {}
        self._clock = clock

    async def run(
        self,
        order: Order,
        job_id: str,
        *,
        max_bytes: int,
        ticket: Ticket,
        progress: Progress,
        timing: Timing,
    ) -> DreamResult:
        """Dream `order` (its image fetched), the result at most `max_bytes`; raises what the
        backend raises. The ticket is marked running when a worker starts the dream."""
        assert order.image is not None, "an order is run once its image is fetched"
        request = DreamRequest(
            image=order.image.data,
            params=order.params,
            guide=order.guide.data if order.guide else None,
            output_max_bytes=max_bytes,
            preview=True,  # a small JPEG at the end of each octave, shown under the progress bar
        )
        job = self.backend.submit(request, job_id=job_id)
        live = self.live[job_id] = LiveJob(job_id, order, job, timing)
        try:
            async for event in job.events():
                if event.kind == "queued" and event.position:
                    progress.queued(event.position, self.wait_estimate(job_id))
                elif event.kind == "started":
                    timing.started = self._clock()
                    progress.started()
                    await ticket.running()
                elif event.kind == "progress" and event.progress:
                    live.done = event.progress.fraction
                    progress.advanced(event.progress)
            result = await job.result()
        finally:
            self.live.pop(job_id, None)
            if not job.finished:
                job.cancel()  # nobody will read the result: free the worker
        self.estimates.record(order.params, result.seconds)
        return result

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job (its flow then refunds it and says so); False if it
        is not running here any more."""
        live = self.live.get(job_id)
        if live is None or live.job.finished:
            return False
        live.job.cancel()
        return True

    def jobs_of(self, user_id: int) -> list[LiveJob]:
        return [j for j in self.live.values() if j.order.requester.user_id == user_id]

    def wait_estimate(self, job_id: str) -> float | None:
        """About how long until a queued job starts."""
        me = self.live.get(job_id)
        if me is None or me.job.position is None or me.job.state != "queued":
            return None
        now = self._clock()
        ahead = [
            j.order.params
            for j in self.live.values()
            if j.job.state == "queued" and (j.job.position or 0) < me.job.position
        ]
        running = [
            (j.order.params, now - (j.timing.started or now))
            for j in self.live.values()
            if j.job.state == "running"
        ]
        stats = self.backend.stats()  # dreams run side by side: several per GPU worker
        return self.estimates.wait(ahead, running, stats.places or stats.workers_alive)
