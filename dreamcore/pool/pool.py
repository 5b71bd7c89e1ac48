"""A bounded FIFO queue of dreams fed to a set of workers (WorkerPool), and LocalPool: the
workers are processes on this machine.

Everything here runs on the event loop thread, so the bookkeeping needs no locks: pipes are served
by link threads, processes are the Supervisor's, timeouts and grace periods are loop timers, and a
crash arrives as a callback from the link's sentinel watch. WorkerPool knows jobs, not processes:
another kind of worker set (Ray actors, dreamcore.pool.ray_backend) plugs in through `Workers`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Set
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import (
    DreamCancelled,
    DreamError,
    JobTimeout,
    NoWorkers,
    PoolClosed,
    QueueFull,
    QueueTimeout,
    WorkerCrashed,
)
from dreamcore.pool.backend import PoolStats
from dreamcore.pool.devices import plan_devices, threads_per_worker
from dreamcore.pool.jobs import Job
from dreamcore.pool.messages import Done, Failed, JobMessage, Progress, Run
from dreamcore.pool.supervisor import Supervisor, Worker
from dreamcore.pool.timers import cancel_timer
from dreamcore.request import DreamRequest, DreamResult

DEFAULT_HANDLER = PoolConfig().handler
CHILD_SLACK_S = 1.0  # the child's own deadline is only a backstop: the parent's timer fires first


class PoolWorker(Protocol):
    """One worker as WorkerPool sees it (a process's supervisor.Worker, or a Ray fleet's Actor,
    both a holder.JobHolder): it holds up to its capacity of jobs at once."""

    # Read-only here (a dataclass field, a property or an actor's attribute all fit)
    @property
    def state(self) -> Literal["starting", "idle", "busy", "dead"]:  # busy: holds a job
        ...

    @property
    def pid(self) -> int: ...
    @property
    def dead(self) -> asyncio.Future[Any]: ...

    def holding(self, job_id: str) -> Job | None: ...
    def take(self, job: Job, run: Run) -> None: ...
    def release(self, job: Job) -> None: ...


W = TypeVar("W", bound=PoolWorker)  # the kind of worker a worker set holds


class Workers(Protocol[W]):
    """What WorkerPool needs of its worker set (the Supervisor's processes, or Ray actors); it
    reports through the callbacks WorkerPool hands to `_make_workers`."""

    slots: list[Any]  # one per planned worker
    restarts: int

    @property
    def workers(self) -> Set[W]:
        """Every live worker."""
        ...

    def available(self) -> W | None:
        """A worker with room for one more job (the least loaded), or None."""
        ...

    def running(self, job: Job) -> W | None: ...
    def places(self) -> int:
        """Jobs the live workers can hold at once (for wait estimates)."""
        ...

    def count(self, *states: str) -> int: ...
    def pids(self) -> list[int]: ...
    def stop_job(self, worker: W, job: Job) -> None: ...
    async def shutdown(self, grace: float) -> None: ...


class WorkerPool(Generic[W]):
    """The queue, positions, deadlines, cancels, retries and drain; subclasses bring the workers
    (of kind W)."""

    def __init__(self, pool: PoolConfig, engine: EngineConfig, handler: str | None = None) -> None:
        """`handler` (module:Class) overrides `pool.handler`, the object workers run jobs with."""
        if pool.workers != "auto" and pool.workers < 1:
            raise ValueError("PoolConfig.workers must be 'auto' or at least 1")
        self.config = pool
        self._state: Literal["new", "starting", "running", "closing", "closed"] = "new"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers = self._make_workers(pool, engine, handler or pool.handler)
        self._queue: deque[Job] = deque()
        self._live: dict[str, Job] = {}  # unfinished jobs by id
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._counts = dict(done=0, failed=0, cancelled=0, timed_out=0)
        self._busy_seconds = 0.0
        self._down_since: float | None = None  # when the last live worker went away
        self._down_timer: asyncio.TimerHandle | None = None

    def _make_workers(self, pool: PoolConfig, engine: EngineConfig, handler: str) -> Workers[W]:
        raise NotImplementedError

    async def _start_workers(self) -> None:
        """Start the workers and wait until they are warm; raise the start error if none is."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the DreamBackend API ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until each is warm; raise the start error if none is."""
        if self._state != "new":
            raise RuntimeError(f"pool already {self._state}")
        self._loop = asyncio.get_running_loop()
        self._state = "starting"
        try:
            await self._start_workers()
        except BaseException:
            await self.close(timeout=0)
            raise
        self._state = "running"
        self._dispatch()

    def submit(self, request: DreamRequest, *, job_id: str | None = None) -> Job:
        if self._state in ("closing", "closed"):
            raise PoolClosed("The dream service is shutting down; try again in a moment.")
        if self._workers_down():
            raise NoWorkers("No dream worker is running right now.")
        if len(self._queue) >= self.config.queue_size:
            raise QueueFull(waiting=len(self._queue))
        if job_id is not None and job_id in self._live:
            raise ValueError(f"job id {job_id!r} is already in use")
        job = Job(request, job_id, self._cancel)
        self._live[job.id] = job
        self._queue.append(job)
        self._arm_wait(job)
        job.set_queued(len(self._queue))
        self._dispatch()
        return job

    def stats(self) -> PoolStats:
        c, w = self._counts, self._workers
        return PoolStats(
            workers_total=len(w.slots),
            workers_alive=w.count("idle", "busy"),
            workers_busy=w.count("busy"),
            places=w.places(),
            queue_depth=len(self._queue),
            jobs_done=c["done"],
            jobs_failed=c["failed"],  # timeouts and crashes included
            jobs_cancelled=c["cancelled"],
            jobs_timed_out=c["timed_out"],
            worker_restarts=w.restarts,
            mean_job_seconds=self._busy_seconds / c["done"] if c["done"] else None,
            workers_down_s=self._loop.time() - self._down_since
            if self._loop and self._down_since is not None
            else None,
        )

    def worker_pids(self) -> list[int]:
        """Pids of the workers alive now."""
        return self._workers.pids()

    async def close(self, timeout: float | None = None) -> None:
        """Refuse new jobs, answer queued ones (PoolClosed), let running ones finish until the
        deadline (default shutdown_timeout_s), then stop and reap every worker."""
        if self._state in ("closing", "closed"):
            await asyncio.gather(*(w.dead for w in self._workers.workers))
            return
        self._state = "closing"
        while self._queue:
            closed = PoolClosed("The dream service shut down before your dream started.")
            self._fail(self._queue.popleft(), closed, cancelled=True)
        running = [j for j in self._live.values() if j.state == "running"]
        if running:
            deadline = self.config.shutdown_timeout_s if timeout is None else timeout
            waits = [asyncio.ensure_future(j.wait_finished()) for j in running]
            await asyncio.wait(waits, timeout=deadline)
            for wait in waits:
                wait.cancel()
        for job in running:
            if not job.finished:
                self._fail(
                    job, PoolClosed("The dream service shut down before your dream finished.")
                )
        await self._workers.shutdown(grace=self.config.cancel_grace_s)
        cancel_timer(self._down_timer)
        self._state = "closed"

    # --- scheduling -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        if self._state not in ("starting", "running"):
            return
        assert self._loop is not None
        moved = False
        while self._queue and (worker := self._workers.available()) is not None:
            job = self._queue.popleft()
            moved = True
            self._cancel_timer(job)  # its queue deadline; the run timeout replaces it
            job.set_running(worker.pid, self._loop.time())
            worker.take(job, Run(job.id, job.request, self.config.job_timeout_s + CHILD_SLACK_S))
            self._timers[job.id] = self._loop.call_later(
                self.config.job_timeout_s, self._timed_out, job
            )
        if moved:
            self._renumber()

    def _renumber(self) -> None:
        for position, waiting in enumerate(self._queue, start=1):
            waiting.set_queued(position)

    def _on_message(self, worker: W, msg: JobMessage) -> None:
        job = worker.holding(msg.job_id)
        if job is None:
            return  # about a job this worker has already given back
        if isinstance(msg, Progress):
            if job.state == "running":
                job.set_progress(msg.progress)
            return
        worker.release(job)  # Done / Failed
        if job.state == "running":  # else it was answered already (cancel, timeout, close)
            match msg:
                case Done(result=result):
                    self._complete(job, result)
                case Failed():
                    error = msg.error()
                    self._fail(job, error, cancelled=isinstance(error, DreamCancelled))
        self._dispatch()

    # --- workers coming and going -----------------------------------------------------------------

    def _worker_ready(self, worker: W) -> None:
        self._down_since = None
        cancel_timer(self._down_timer)
        self._dispatch()

    def _note_workers(self) -> None:
        """Start the no-worker clock when the last live worker is gone."""
        if self._workers.count("idle", "busy") or self._down_since is not None:
            return
        if self._state not in ("starting", "running"):
            return
        assert self._loop is not None
        self._down_since = self._loop.time()
        self._down_timer = self._loop.call_later(
            self.config.no_worker_grace_s, self._fail_queued_for_no_workers
        )

    def _workers_down(self) -> bool:
        """No worker has been alive for the grace period."""
        if self._down_since is None or self._loop is None:
            return False
        return self._loop.time() - self._down_since >= self.config.no_worker_grace_s

    def _fail_queued_for_no_workers(self) -> None:
        grace = self.config.no_worker_grace_s
        while self._queue:
            error = NoWorkers(f"No dream worker has been running for {grace:g} s.")
            self._fail(self._queue.popleft(), error)

    def _waited_too_long(self, job: Job) -> None:
        if job.state == "queued" and job in self._queue:
            self._queue.remove(job)
            limit = self.config.max_queue_wait_s
            self._fail(job, QueueTimeout(f"The dream waited over {limit:g} s for a worker."))
            self._renumber()

    def _on_died(self, worker: W, job: Job | None, exitcode: int | None) -> None:
        self._note_workers()
        if job is None or job.state != "running":
            return
        if (
            self.config.retry_crashed
            and job.attempts < 2
            and self._state in ("starting", "running")
        ):
            self._requeue_first(job)  # retried once, ahead of everyone else
            return
        code = "" if exitcode is None else f" (exit code {exitcode})"
        message = f"The dream worker stopped unexpectedly{code} during job {job.id}."
        self._fail(job, WorkerCrashed(message))

    def _on_lost(self, worker: W, job: Job | None) -> None:
        """The worker was gone before it began `job`, or was killed for another job's ignored
        cancel: the job runs elsewhere, first in line, the attempt not counted."""
        if job is None or job.state != "running" or self._state not in ("starting", "running"):
            self._on_died(worker, job, None)
            return
        self._note_workers()
        job.attempts -= 1  # this one never ran
        self._requeue_first(job)

    def _requeue_first(self, job: Job) -> None:
        """Back to the head of the queue, with a fresh maximum wait."""
        self._cancel_timer(job)
        self._queue.appendleft(job)
        self._arm_wait(job)
        self._renumber()
        self._dispatch()

    def _arm_wait(self, job: Job) -> None:
        loop = self._loop or asyncio.get_running_loop()
        self._timers[job.id] = loop.call_later(
            self.config.max_queue_wait_s, self._waited_too_long, job
        )

    def _cancel(self, job: Job) -> None:
        if job.state == "queued" and job in self._queue:
            self._queue.remove(job)
            self._fail(job, DreamCancelled("The dream was cancelled."), cancelled=True)
            self._renumber()
        elif job.state == "running":
            self._fail(job, DreamCancelled("The dream was cancelled."), cancelled=True)
            self._stop(job)

    def _timed_out(self, job: Job) -> None:
        if job.state == "running":
            limit = self.config.job_timeout_s
            self._fail(job, JobTimeout(f"The dream took longer than {limit:g} s and was stopped."))
            self._stop(job)

    def _stop(self, job: Job) -> None:
        worker = self._workers.running(job)
        if worker is not None:
            self._workers.stop_job(worker, job)

    # --- outcomes ---------------------------------------------------------------------------------

    def _complete(self, job: Job, result: DreamResult) -> None:
        assert self._loop is not None and job.started_at is not None
        self._counts["done"] += 1
        self._busy_seconds += self._loop.time() - job.started_at
        self._settle(job)
        job.finish(result)

    def _fail(self, job: Job, error: DreamError, *, cancelled: bool = False) -> None:
        if cancelled:
            self._counts["cancelled"] += 1
        else:
            self._counts["failed"] += 1
            self._counts["timed_out"] += isinstance(error, JobTimeout)
        self._settle(job)
        job.fail(error, cancelled=cancelled)

    def _settle(self, job: Job) -> None:
        self._cancel_timer(job)
        self._live.pop(job.id, None)

    def _cancel_timer(self, job: Job) -> None:
        cancel_timer(self._timers.pop(job.id, None))


class LocalPool(WorkerPool[Worker]):
    """Worker processes on this machine: one per GPU, or `cpu_workers` CPU workers."""

    _workers: Supervisor

    def _make_workers(self, pool: PoolConfig, engine: EngineConfig, handler: str) -> Supervisor:
        return Supervisor(
            pool,
            engine,
            handler,
            on_ready=self._worker_ready,
            on_message=self._on_message,
            on_died=self._on_died,
            on_lost=self._on_lost,
        )

    async def _start_workers(self) -> None:
        devices = await plan_devices(self.config, self._workers.engine)
        await self._workers.start(devices, threads_per_worker(self.config, len(devices)))
