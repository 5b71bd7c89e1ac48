"""Keeps one worker process per slot alive: spawn, start timeout, restart with backoff, shutdown.

Runs on the event loop thread; each process's pipe is served by its WorkerLink's threads. What the
workers say about jobs is handed to the pool through callbacks: the supervisor knows processes,
the pool knows jobs.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import WorkerCrashed
from dreamcore.pool.holder import JobHolder, most_room, places_of
from dreamcore.pool.jobs import Job
from dreamcore.pool.link import WorkerLink
from dreamcore.pool.messages import (
    Cancel,
    Died,
    FromWorker,
    JobMessage,
    Ready,
    Run,
    StartFailed,
    Stop,
)
from dreamcore.pool.timers import backoff_s, cancel_timer, retrieve_exception
from dreamcore.pool.worker import dreams_per_worker, run_worker

log = logging.getLogger(__name__)
_CTX = multiprocessing.get_context("spawn")  # CUDA does not survive fork


@dataclass(eq=False)
class Worker(JobHolder):
    """One worker process: up to `capacity` jobs at once, each on a thread of its own."""

    slot: Slot
    link: WorkerLink = field(init=False)  # made right after: its reader posts for this worker
    ready: asyncio.Future[None]
    dead: asyncio.Future[int | None]
    timer: asyncio.TimerHandle | None = None  # the start timeout

    @property
    def pid(self) -> int:
        return self.link.pid

    def take(self, job: Job, run: Run) -> None:
        """Hand `job` to this worker, which has room."""
        self.hold(job)
        self.link.send(run)


@dataclass(eq=False)
class Slot:
    index: int
    device: str
    worker: Worker | None = None
    failures: int = 0  # starts that failed in a row
    restart: asyncio.TimerHandle | None = None


class Supervisor:
    def __init__(
        self,
        config: PoolConfig,
        engine: EngineConfig,
        handler: str,
        *,
        on_ready: Callable[[Worker], None],
        on_message: Callable[[Worker, JobMessage], None],
        on_died: Callable[[Worker, Job | None, int | None], None],
        on_lost: Callable[[Worker, Job | None], None],
    ) -> None:
        self.config, self.engine, self.handler = config, engine, handler
        self._on_ready, self._on_message, self._on_died = on_ready, on_message, on_died
        self._on_lost = on_lost
        self.slots: list[Slot] = []
        self.workers: set[Worker] = set()  # every live process, whatever its slot says
        self.restarts = 0
        self.replacing = False  # replace workers that die (from a successful start until shutdown)
        self.closed = False
        self._threads = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spawning: set[asyncio.Task[Any]] = set()
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="pool-spawn")  # start() blocks

    # --- queries ----------------------------------------------------------------------------------

    def available(self) -> Worker | None:
        """The worker with the most room (least loaded first), or None when all are full."""
        return most_room(s.worker for s in self.slots)

    def running(self, job: Job) -> Worker | None:
        return next((w for w in self.workers if w.holds(job)), None)

    def places(self) -> int:
        """Jobs the live workers can hold at once."""
        return places_of(self.workers)

    def count(self, *states: str) -> int:
        return sum(w.state in states for w in self.workers)

    def pids(self) -> list[int]:
        return sorted(w.pid for w in self.workers if w.state != "dead")

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self, devices: list[str], threads: int) -> None:
        """Spawn one worker per device and wait for each to be warm; raise if none is."""
        self._loop = asyncio.get_running_loop()
        self._threads = threads
        self.slots = [Slot(i, d) for i, d in enumerate(devices)]
        first = [await self._spawn(slot) for slot in self.slots]
        await asyncio.wait([w.ready for w in first])
        if not self.count("idle", "busy"):  # surface the error; no restart loop
            errors = (w.ready.exception() for w in first if not w.ready.cancelled())
            raise next((e for e in errors if e is not None), WorkerCrashed("No worker started."))
        self.replacing = True
        for slot in self.slots:  # some failed: keep trying them, with backoff
            if slot.worker is None:
                self._schedule_restart(slot)

    async def shutdown(self, grace: float) -> None:
        """Stop every worker (politely, then by force after `grace`) and wait until each is
        reaped."""
        self.replacing, self.closed = False, True
        for slot in self.slots:
            cancel_timer(slot.restart)
        if self._spawning:
            await asyncio.wait(self._spawning)
        for worker in list(self.workers):
            for job_id in worker.jobs:
                worker.link.send(Cancel(job_id))
            worker.link.send(Stop())
        if self.workers:
            await asyncio.wait([w.dead for w in self.workers], timeout=grace)
            for worker in list(self.workers):
                worker.link.kill()
            await asyncio.gather(*(w.dead for w in list(self.workers)))
        self._spawner.shutdown(wait=False)

    def stop_job(self, worker: Worker, job: Job) -> None:
        """Ask the worker to drop `job`; kill (and so replace) it if it has not within the grace."""
        worker.link.send(Cancel(job.id))
        worker.kill_unless_dropped(job, self.config.cancel_grace_s, worker.link.kill)

    # --- processes --------------------------------------------------------------------------------

    async def _spawn(self, slot: Slot) -> Worker:
        loop = self._loop
        assert loop is not None
        parent_conn, child_conn = _CTX.Pipe(duplex=True)
        engine = self.engine.model_copy(update={"device": slot.device})
        process = _CTX.Process(
            target=run_worker,
            args=(child_conn, self.handler, engine, self.config, self._threads),
            name=f"dream-worker-{slot.index}",
        )
        try:
            await loop.run_in_executor(self._spawner, process.start)
        finally:
            child_conn.close()
        capacity = dreams_per_worker(self.config, engine)
        worker = Worker(slot, loop.create_future(), loop.create_future(), capacity=capacity)
        worker.ready.add_done_callback(retrieve_exception)
        worker.link = WorkerLink(process, parent_conn, lambda _, msg: self._post(worker, msg))
        worker.timer = loop.call_later(self.config.start_timeout_s, self._start_timed_out, worker)
        slot.worker = worker
        self.workers.add(worker)
        if self.closed:  # shut down while it was being launched
            worker.link.kill()
        return worker

    def _post(self, worker: Worker, msg: FromWorker | Died) -> None:
        """Called from a link thread: hop onto the loop."""
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._handle, worker, msg)
        except RuntimeError:
            pass  # loop closed: nobody is left to tell

    def _handle(self, worker: Worker, msg: FromWorker | Died) -> None:
        match msg:
            case Ready():
                cancel_timer(worker.timer)
                worker.state, worker.slot.failures = "idle", 0
                if not worker.ready.done():
                    worker.ready.set_result(None)
                self._on_ready(worker)
            case StartFailed(message=message):
                log.warning(
                    "dream worker %d (%s) could not start: %s",
                    worker.pid,
                    worker.slot.device,
                    message,
                )
                if not worker.ready.done():
                    worker.ready.set_exception(msg.error())
            case Died(exitcode=exitcode):
                self._died(worker, exitcode)
            case _:
                self._on_message(worker, msg)

    def _start_timed_out(self, worker: Worker) -> None:
        if not worker.ready.done():
            limit = self.config.start_timeout_s
            worker.ready.set_exception(WorkerCrashed(f"A worker did not start within {limit:g} s."))
        worker.link.kill()

    def _died(self, worker: Worker, exitcode: int | None) -> None:
        was_ready = worker.up
        worker.state = "dead"
        cancel_timer(worker.timer)
        spared = worker.spared  # killed for a stuck cancel: the jobs beside it run again
        jobs: list[Job | None] = list(worker.drop_all())
        self.workers.discard(worker)
        worker.dead.set_result(exitcode)
        if not worker.ready.done():
            worker.ready.set_exception(
                WorkerCrashed(f"A dream worker exited while starting (exit code {exitcode}).")
            )
        if self.replacing and was_ready and worker.slot.worker is worker:
            log.warning("dream worker %d exited (code %s) during %s", worker.pid, exitcode, jobs)
        for job in jobs or [None]:
            if spared and job is not None:
                self._on_lost(worker, job)
            else:
                self._on_died(worker, job, exitcode)
        slot = worker.slot
        if slot.worker is worker:
            slot.worker = None
            slot.failures += not was_ready
            if self.replacing:
                self._schedule_restart(slot)

    def _schedule_restart(self, slot: Slot) -> None:
        assert self._loop is not None
        # Failed starts back off; a crash of a healthy worker is replaced at once.
        delay = backoff_s(slot.failures) if slot.failures else 0.0
        slot.restart = self._loop.call_later(delay, self._restart, slot)

    def _restart(self, slot: Slot) -> None:
        slot.restart = None
        if not self.replacing:
            return
        self.restarts += 1
        task = asyncio.ensure_future(self._spawn(slot))
        self._spawning.add(task)
        task.add_done_callback(lambda t: self._spawned(slot, t))

    def _spawned(self, slot: Slot, task: asyncio.Task[Any]) -> None:
        self._spawning.discard(task)
        if not task.cancelled() and task.exception() is not None and self.replacing:
            slot.failures += 1  # could not even launch a process: back off, try again
            self._schedule_restart(slot)
