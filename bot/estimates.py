"""How long a wait in the queue will be, from how long recent dreams took here.

Jobs are grouped by what makes them slow (model, size, frames). A queued job waits for what is
left of the running jobs and for the jobs ahead of it, each taking its kind's typical time (the
median of its recent runs; any recent run when its kind has none yet), shared among the
workers. No history yet: no estimate (better none than a made-up one).
"""

from __future__ import annotations

import math
import statistics
from collections import deque

from dreamcore.request import DreamParams

KEEP = 20  # recent runs remembered per kind (and overall)


def kind_of(params: DreamParams) -> tuple[str, int, int]:
    """Jobs that take about as long: the model, the size (to 256 px), the frames."""
    return params.model, math.ceil(params.max_side / 256) * 256, params.frames or 1


class QueueEstimates:
    def __init__(self) -> None:
        self._by_kind: dict[tuple[str, int, int], deque[float]] = {}
        self._recent: deque[float] = deque(maxlen=KEEP)

    def record(self, params: DreamParams, seconds: float) -> None:
        self._by_kind.setdefault(kind_of(params), deque(maxlen=KEEP)).append(seconds)
        self._recent.append(seconds)

    def typical(self, params: DreamParams) -> float | None:
        runs = self._by_kind.get(kind_of(params)) or self._recent
        return statistics.median(runs) if runs else None

    def wait(
        self,
        ahead: list[DreamParams],
        running: list[tuple[DreamParams, float]],
        workers: int,
    ) -> float | None:
        """Seconds until a queued job starts, about: `ahead` are the queued jobs before it,
        `running` the running ones with how long they have run."""
        if workers < 1 or not self._recent:
            return None
        left = sum(max(0.0, (self.typical(p) or 0.0) - run) for p, run in running)
        work = left + sum(self.typical(p) or 0.0 for p in ahead)
        return work / workers
