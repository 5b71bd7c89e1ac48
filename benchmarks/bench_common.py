"""What the benchmarks share: the photo they dream, and a Dreamer that runs without downloads."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dreamcore.config import EngineConfig  # noqa: E402
from dreamcore.engine.dreamer import Dreamer  # noqa: E402
from dreamcore.engine.models import build_model  # noqa: E402
from dreamcore.errors import WeightsUnavailable  # noqa: E402

PHOTO = ROOT / "tests" / "data" / "chelsea.jpg"
GUIDE = ROOT / "tests" / "data" / "astronaut.jpg"


def dreamer_for(model: str, **engine) -> tuple[Dreamer, str]:
    """A CPU Dreamer with `model`'s trained weights where they are on this machine, else random
    ones (speed does not depend on them); also says which."""
    dreamer = Dreamer(EngineConfig(models=(model,), device="cpu", offline=True, **engine))
    try:
        dreamer.model(model)
        return dreamer, "trained weights"
    except WeightsUnavailable:
        dreamer.add_model(model, build_model(model, pretrained=False))
        return dreamer, "random weights (speed does not depend on them)"


class OfflineDreamer(Dreamer):
    """A pool handler (`bench_common:OfflineDreamer`) that dreams with trained weights where they
    are on this machine and random ones otherwise (speed does not depend on them)."""

    def model(self, name: str):
        try:
            return super().model(name)
        except WeightsUnavailable:
            self.add_model(name, build_model(name, pretrained=False))
            return super().model(name)
