"""The real engine's handler, with a gate: see tests/gates.py."""

from __future__ import annotations

from collections.abc import Callable

from dreamcore.engine.dreamer import Dreamer
from dreamcore.request import DreamProgress, DreamRequest, DreamResult
from tests.gates import gate_of, wait_at_gate


class GatedDreamer(Dreamer):
    def run(
        self,
        request: DreamRequest,
        on_progress: Callable[[DreamProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> DreamResult:
        gate = gate_of(request.image)
        if gate is None:
            return super().run(request, on_progress, should_stop)
        stop = should_stop or (lambda: False)
        held = [False]  # once per job (an animation's later frames run freely)

        def progress(event: DreamProgress) -> None:
            if on_progress is not None:
                on_progress(event)
            if not held[0] and event.octave == 1 and event.step == event.steps:
                held[0] = True
                wait_at_gate(gate, stop)

        return super().run(request, progress, should_stop)
