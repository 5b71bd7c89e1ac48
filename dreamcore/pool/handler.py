"""What a pool worker runs: a `Handler`, named by the setting `pool.handler` ("module:Class").

A worker (a spawned process, or a Ray actor) builds it once from the engine config, warms it
with `pool.warm_models`, then runs one job at a time with it. The engine's Dreamer is the real
one (the engine never imports the pool: it matches this protocol by shape); tests have their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from dreamcore.config import EngineConfig
from dreamcore.request import DreamProgress, DreamRequest, DreamResult


@runtime_checkable
class Handler(Protocol):
    def warm(self, models: tuple[str, ...]) -> None:
        """Load these models now, at the worker's start (raises if it cannot)."""

    def run(
        self,
        request: DreamRequest,
        on_progress: Callable[[DreamProgress], None],
        should_stop: Callable[[], bool],
    ) -> DreamResult:
        """Dream one request, reporting progress; stop (DreamCancelled) once should_stop()."""


HandlerFactory = Callable[[EngineConfig], Handler]  # the class `pool.handler` names
