"""The real engine's handler, with its dreams started together: a worker (a process or a Ray
actor) loads it by path (`tests.dreamcore.pool.lockstep:LockstepDreamer`).

Each dream, once inside the StepBatcher (`dreaming()`), waits there until LOCKSTEP dreams are:
none has asked for a gradient yet, so from then on every step of theirs goes through one batch,
whatever the threads' timing. So a test can say how large the batches were (each result's last
note), not only that the dreams came out right. Submit exactly LOCKSTEP dreams at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dreamcore.config import EngineConfig
from dreamcore.engine.dreamer import Dreamer
from dreamcore.request import DreamProgress, DreamRequest, DreamResult

LOCKSTEP = 3
LIMIT_S = 120.0  # only turns a missing dream into a failed job instead of a hang


class LockstepDreamer(Dreamer):
    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        assert self.batcher is not None, "LockstepDreamer needs engine.batching on"
        self._all_in = threading.Barrier(LOCKSTEP)
        dreaming = self.batcher.dreaming

        @contextmanager
        def together() -> Iterator[None]:
            with dreaming():
                self._all_in.wait(LIMIT_S)
                yield

        self.batcher.dreaming = together  # type: ignore[method-assign]

    def run(
        self,
        request: DreamRequest,
        on_progress: Callable[[DreamProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> DreamResult:
        result = super().run(request, on_progress, should_stop)
        assert self.batcher is not None
        largest = f"largest_batch={self.batcher.stats.largest}"
        return result.model_copy(update={"notes": (*result.notes, largest)})
