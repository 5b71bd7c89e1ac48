"""Test handlers that spawned workers import by path (`tests.dreamcore.pool.handlers:...`).

A request's image bytes are a JSON script telling the handler what to do, so one pool can run
ordinary jobs, crash, hang or fail on demand. No torch here: workers start fast.

`gate` / `hold`: a tests.gates.Gate's path; the job waits there before its first step (`gate`) or
after its first progress event (`hold`: the test has seen it run), checking should_stop meanwhile
(a stubborn handler ignores it), until the test releases it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from dreamcore.config import EngineConfig
from dreamcore.errors import DreamCancelled, DreamError, InvalidImage, WeightsUnavailable
from dreamcore.request import DreamProgress, DreamRequest, DreamResult
from tests.gates import wait_at_gate


def script(**values: object) -> bytes:
    return json.dumps(values, sort_keys=True).encode()


def expected_digest(image: bytes) -> bytes:
    return hashlib.sha256(image).digest()


class SleepyHandler:
    """`steps` steps of `sleep` s each, a DreamProgress per step; honours should_stop."""

    ignore_stop = False

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.warmed: tuple[str, ...] = ()

    def warm(self, models: tuple[str, ...]) -> None:
        self.warmed = tuple(models)

    def run(
        self,
        request: DreamRequest,
        on_progress: Callable[[DreamProgress], None],
        should_stop: Callable[[], bool],
    ) -> DreamResult:
        t0 = time.perf_counter()
        s = json.loads(request.image)
        steps, sleep = s.get("steps", 3), s.get("sleep", 0.02)
        stoppable = not (self.ignore_stop or s.get("ignore_stop"))
        if "gate" in s:  # held until the test releases it (tests/gates.py)
            wait_at_gate(s["gate"], should_stop)
        for step in range(1, steps + 1):
            if should_stop() and stoppable:
                raise DreamCancelled("stopped")
            if step == s.get("crash_at") and self._should_crash(s):
                if s.get("crash") == "exit":
                    os._exit(7)
                os.kill(os.getpid(), signal.SIGKILL)
            self._fail_if_asked(s, request)
            time.sleep(sleep)
            on_progress(DreamProgress(octave=1, octaves=1, step=step, steps=steps))
            if step == 1 and "hold" in s:  # a gate after the first progress: the test saw it run
                wait_at_gate(s["hold"], should_stop if stoppable else lambda: False)
        return DreamResult(
            image=expected_digest(request.image),
            format="png",
            width=steps,
            height=request.params.tile_size or 512,
            seed=os.getpid(),  # which process ran it
            model=request.params.model,
            target=request.params.target,
            octaves_run=1,
            seconds=time.perf_counter() - t0,
            objective_start=0.0,
            objective_end=1.0,
            notes=(
                f"device={self.config.device}",
                f"threads={os.environ.get('OMP_NUM_THREADS')}",
                f"warmed={','.join(self.warmed)}",
            ),
        )

    @staticmethod
    def _should_crash(s: dict) -> bool:
        marker = s.get("crash_once_file")
        if marker is None:
            return True
        if Path(marker).exists():
            return False
        Path(marker).touch()
        return True

    @staticmethod
    def _fail_if_asked(s: dict, request: DreamRequest) -> None:
        fail = s.get("fail")
        if fail == "invalid_image":
            raise InvalidImage("that is not an image")
        if fail == "boom":
            raise ZeroDivisionError("boom")
        if fail == "oom" or (fail == "oom_big_tiles" and (request.params.tile_size or 512) > 256):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


class StubbornHandler(SleepyHandler):
    """Ignores should_stop: only a kill ends it early."""

    ignore_stop = True


class BrokenWarmHandler(SleepyHandler):
    def warm(self, models: tuple[str, ...]) -> None:
        raise WeightsUnavailable("weights for `inception5h` are missing; put them in the cache dir")


class CrashOnImportHandler(SleepyHandler):
    def __init__(self, config: EngineConfig) -> None:
        raise DreamError("misconfigured")


class WarmFailsOnceBrokenHandler(SleepyHandler):
    """Starts fine until the file named by $DREAMBOT_TEST_BREAK_WARM exists (to test restart
    backoff)."""

    def warm(self, models: tuple[str, ...]) -> None:
        if Path(os.environ["DREAMBOT_TEST_BREAK_WARM"]).exists():
            raise WeightsUnavailable("weights vanished")


class WhereHandler(SleepyHandler):
    """Also says which GPU the worker was given (CUDA_VISIBLE_DEVICES, as Ray sets it)."""

    def run(self, request, on_progress, should_stop):  # type: ignore[no-untyped-def]
        result = super().run(request, on_progress, should_stop)
        gpu = f"gpu={os.environ.get('CUDA_VISIBLE_DEVICES')}"
        return result.model_copy(update={"notes": (*result.notes, gpu)})
