"""One dream worker as a Ray actor: the same handler contract as a local worker process.

The handler is loaded and warmed by `worker.start_handler` and each job runs through
`worker.run_job`, exactly as in a spawned worker; only the transport differs. Ray makes the class
remote (ray_fleet), so this module imports neither ray nor torch at the top.

  ready()     (Ready(pid) | StartFailed, node id), once the handler is warm (after each restart)
  run(job)    a streaming generator: Ready(pid) when it takes the job, Progress..., Done | Failed;
              ray.cancel on it stops the handler at its next step (should_stop)
  lifeline()  never returns: its error is how the fleet learns that the actor died, even when idle
              (the analogue of a process sentinel)

The actor is threaded: it holds up to `dreams` jobs at once (ActorPlan.dreams, the fleet's
max_concurrency), each `run` on a thread of Ray's with the handler's work on one of its own, all
sharing one handler, so the engine's StepBatcher steps their dreams together as in a local worker.
ready() and lifeline() run in CONTROL_GROUP, never queued behind jobs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamError
from dreamcore.pool.handler import Handler
from dreamcore.pool.messages import Done, Failed, FromWorker, Progress, Ready, Run, StartFailed
from dreamcore.pool.worker import run_job, start_failed, start_handler

CONTROL_GROUP = "control"  # ready() and lifeline(): a concurrency group beside the jobs' own
CONTROL_THREADS = 2  # one each
CANCEL_POLL_S = 0.05  # between progress events, how often the job's thread looks for ray.cancel


class _Mailbox:
    """From the handler's thread to the generator: the newest progress (older ones coalesced,
    their preview kept, as in the local worker's outbox), then the final message."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._progress: Progress | None = None
        self._final: Done | Failed | None = None

    def progress(self, msg: Progress) -> None:
        with self._cond:
            if self._progress is not None:
                msg = msg.keeping_preview_of(self._progress)
            self._progress = msg
            self._cond.notify()

    def finish(self, msg: Done | Failed) -> None:
        with self._cond:
            self._final = msg
            self._cond.notify()

    def take(self, timeout: float) -> Progress | Done | Failed | None:
        """The next message, or None if there is none within `timeout`."""
        with self._cond:
            if self._progress is None and self._final is None:
                self._cond.wait(timeout)
            if self._progress is None and self._final is None:
                return None
            if self._progress is not None:
                msg, self._progress = self._progress, None
                return msg
            assert self._final is not None
            return self._final


class DreamActor:
    def __init__(
        self, handler_path: str, engine: EngineConfig, pool: PoolConfig, threads: int
    ) -> None:
        self._tile = engine.tile_size
        self._handler: Handler | None = None
        try:
            self._handler = start_handler(handler_path, engine, pool, threads)
            self._state: Ready | StartFailed = Ready(os.getpid())
        except Exception as err:  # noqa: BLE001 - ready() reports it (a raise restarts forever)
            self._state = start_failed(err)

    def ready(self) -> tuple[Ready | StartFailed, str]:
        import ray

        return self._state, ray.get_runtime_context().get_node_id()

    def lifeline(self) -> None:
        threading.Event().wait()

    def run(self, job: Run) -> Iterator[FromWorker]:
        import ray

        if self._handler is None:
            yield Failed.of(job.job_id, DreamError("This dream worker did not start."))
            return
        yield self._state  # taken: a death from now on happened during the job
        mailbox = _Mailbox()
        stop = threading.Event()

        handler = self._handler

        def work() -> None:
            mailbox.finish(run_job(handler, job, stop.is_set, mailbox.progress, self._tile))

        thread = threading.Thread(target=work, name=f"dream-{job.job_id}", daemon=True)
        thread.start()
        task = ray.get_runtime_context()  # is_canceled() answers in this thread only
        try:
            while True:
                msg = mailbox.take(CANCEL_POLL_S)
                if msg is None:
                    if task.is_canceled():  # ray.cancel, and no progress to yield it at
                        stop.set()
                    continue
                yield msg
                if not isinstance(msg, Progress):
                    return
        finally:
            # ray.cancel ends the generator at a yield (GeneratorExit): the handler stops at its
            # next step. Returning only once it has keeps the job's place taken until it is free
            # (no more than `dreams` at once); a handler that never stops is killed by the fleet
            # after the grace.
            stop.set()
            thread.join()
