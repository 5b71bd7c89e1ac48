"""The worker process: load the handler once, then run one job at a time for the parent.

Runs in a spawned child. Only the messages of `dreamcore.pool.messages` cross the pipe.
Top-level imports stay light: torch arrives with the handler module, not with this one.
"""

from __future__ import annotations

import importlib
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, cast

from dreamcore.config import EngineConfig, PoolConfig, import_model_plugins
from dreamcore.errors import DreamCancelled, DreamError, JobTimeout, OutOfMemory
from dreamcore.pool.handler import Handler, HandlerFactory
from dreamcore.pool.messages import (
    Cancel,
    Done,
    Failed,
    FromWorker,
    Progress,
    Ready,
    Run,
    StartFailed,
    Stop,
)
from dreamcore.request import DreamProgress, DreamResult

MIN_TILE = 64  # DreamParams.tile_size lower bound
GPU_DREAMS_PER_WORKER = 16  # dreams_per_worker "auto" on a GPU (DESIGN: ~0.5 ms/image from 16 up)


def load_handler_factory(path: str) -> HandlerFactory:
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return cast(HandlerFactory, obj)


class _Inbox:
    """Listens to the parent on a thread so cancels arrive while the engine is busy.

    EOF means the parent is gone (or dropped us): exit at once, never linger as an orphan.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.jobs: queue.SimpleQueue[Run | None] = queue.SimpleQueue()
        self.cancelled: set[str] = set()
        threading.Thread(target=self._listen, name="pool-inbox", daemon=True).start()

    def _listen(self) -> None:
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                os._exit(0)
            match msg:
                case Run(job_id=job_id):
                    self.cancelled.discard(
                        job_id
                    )  # a stale cancel for a reused id must not stop it
                    self.jobs.put(msg)
                case Cancel(job_id=job_id):
                    self.cancelled.add(job_id)
                case Stop():
                    self.jobs.put(None)


class _Outbox:
    """Sends on a thread; keeps only each job's newest progress, so a slow parent never stalls
    the engine."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cond = threading.Condition()
        self._queue: deque[FromWorker] = deque()
        self._progress: dict[str, Progress] = {}  # by job id
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="pool-outbox", daemon=True)
        self._thread.start()

    def progress(self, msg: Progress) -> None:
        with self._cond:
            unsent = self._progress.get(msg.job_id)
            if unsent is not None:  # not sent yet: replaced, but its preview kept
                msg = msg.keeping_preview_of(unsent)
            self._progress[msg.job_id] = msg
            self._cond.notify()

    def send(self, msg: FromWorker) -> None:
        with self._cond:
            self._queue.append(msg)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._queue or self._progress or self._closed):
                    self._cond.wait()
                batch: list[FromWorker] = list(self._progress.values())
                batch += self._queue  # a job's Done/Failed after its last progress
                self._progress.clear()
                self._queue.clear()
                if not batch and self._closed:
                    return
            for msg in batch:
                try:
                    self._conn.send(msg)
                except (OSError, ValueError):
                    os._exit(0)  # parent gone
                except Exception as err:  # noqa: BLE001 - unpicklable: report, never hang the job
                    if isinstance(msg, Done):
                        try:
                            self._conn.send(Failed.of(msg.job_id, generic_error(msg.job_id, err)))
                        except OSError:
                            os._exit(0)


def generic_error(job_id: str, err: BaseException) -> DreamError:
    return DreamError(f"Something went wrong while dreaming (job {job_id}: {type(err).__name__}).")


def _is_oom(err: BaseException) -> bool:
    # torch.cuda.OutOfMemoryError is a RuntimeError subclass; match by name to avoid importing
    # torch.
    return type(err).__name__ == "OutOfMemoryError" or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower()
    )


def _free_cuda_cache() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_job(
    handler: Handler,
    job: Run,
    cancelled: Callable[[], bool],
    on_progress: Callable[[Progress], None],
    default_tile: int,
) -> Done | Failed:
    """Run one job with `handler` and say how it ended: the handler contract, shared by the local
    worker process and the Ray actor. `cancelled` is polled at every step; `job.timeout_s` is
    this side's own backstop."""
    job_id, request, timeout_s = job.job_id, job.request, job.timeout_s
    deadline = time.monotonic() + timeout_s

    def should_stop() -> bool:
        return cancelled() or time.monotonic() > deadline

    def progress(value: DreamProgress) -> None:
        on_progress(Progress(job_id, value))

    try:
        try:
            result = handler.run(request, progress, should_stop)
        except Exception as err:
            # Out of memory: retry once with tiles half the size (bounded memory), then give up.
            tile = (request.params.tile_size or default_tile) // 2
            if not _is_oom(err) or tile < MIN_TILE:
                raise
            _free_cuda_cache()
            params = request.params.model_copy(update={"tile_size": tile})
            result = handler.run(
                request.model_copy(update={"params": params}), progress, should_stop
            )
        if not isinstance(result, DreamResult):
            raise TypeError(f"handler returned {type(result).__name__}, not DreamResult")
        return Done(job_id, result)
    except DreamCancelled as stopped:
        timed_out = not cancelled() and time.monotonic() > deadline
        reason = JobTimeout(f"The dream took longer than {timeout_s:g} s.") if timed_out else None
        return Failed.of(job_id, reason or stopped)
    except DreamError as err:
        return Failed.of(job_id, err)
    except Exception as err:  # noqa: BLE001 - any handler error is the job's failure, not the worker's
        if _is_oom(err):
            _free_cuda_cache()
            oom = OutOfMemory(
                "The worker ran out of memory on this image; try a smaller size or tile size."
            )
            return Failed.of(job_id, oom)
        traceback.print_exc()
        return Failed.of(job_id, generic_error(job_id, err))


def start_handler(
    handler_path: str, engine: EngineConfig, pool: PoolConfig, threads: int
) -> Handler:
    """Load the handler and warm its models, with `threads` CPU threads for torch (raises)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # for torch, if the handler imports it later
        os.environ[var] = str(threads)
    import_model_plugins(engine.model_plugins)  # a pickled config was not validated here
    handler = load_handler_factory(handler_path)(engine)
    if not isinstance(handler, Handler):
        raise DreamError(
            f"pool.handler `{handler_path}` made a {type(handler).__name__}, which is not a dream "
            "handler: it needs warm(models) and run(request, on_progress, should_stop)."
        )
    if "torch" in sys.modules:  # the env vars above already hold for a torch loaded after them
        sys.modules["torch"].set_num_threads(threads)
    handler.warm(pool.warm_models)
    return handler


def start_failed(err: BaseException) -> StartFailed:
    """What a failed start_handler tells the pool."""
    if isinstance(err, DreamError):
        return StartFailed(err.code, str(err))
    traceback.print_exc()
    return StartFailed(
        DreamError.code, f"The dream worker could not start: {type(err).__name__}: {err}"
    )


def run_worker(
    conn: Connection, handler_path: str, engine: EngineConfig, pool: PoolConfig, threads: int
) -> None:
    """Process entry point (spawned by LocalPool)."""
    # Ctrl+C and SIGTERM sent to the whole process group (a terminal, systemd, `kill -TERM -pgid`)
    # are the parent's to handle: it drains us. We are stopped with SIGKILL or by the pipe closing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    inbox, outbox = _Inbox(conn), _Outbox(conn)
    try:
        handler = start_handler(handler_path, engine, pool, threads)
    except BaseException as err:  # noqa: BLE001 - whatever stops the start, the parent hears it
        outbox.send(start_failed(err))
        outbox.close()
        sys.exit(3)
    outbox.send(Ready(os.getpid()))

    def run_one(job: Run) -> None:
        cancelled = lambda: job.job_id in inbox.cancelled  # noqa: E731
        outbox.send(run_job(handler, job, cancelled, outbox.progress, engine.tile_size))
        inbox.cancelled.discard(job.job_id)

    # Each job on a thread of its own, as many as the pool gives this worker at once: their
    # dreams step together (the engine batches them); Stop lets the running ones finish.
    with ThreadPoolExecutor(dreams_per_worker(pool, engine), "dream") as running:
        while (job := inbox.jobs.get()) is not None:
            running.submit(run_one, job)
    outbox.close()


def dreams_per_worker(pool: PoolConfig, engine: EngineConfig) -> int:
    """How many dreams a worker on `engine.device` holds at once. auto: several on a GPU, where
    a step at batch 1 waits on kernel launches and a batch of them costs little more; one on the
    CPU, where a batch is no faster per image."""
    if pool.dreams_per_worker != "auto":
        return pool.dreams_per_worker
    on_gpu = engine.device.startswith("cuda") and engine.batching != "off"
    return GPU_DREAMS_PER_WORKER if on_gpu else 1
