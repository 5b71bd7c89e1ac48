"""The real engine through the pool: the `tiny` random-init model on CPU."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dreamcore.config import EngineConfig
from dreamcore.pool import make_backend
from dreamcore.request import DreamRequest, make_params
from tests.dreamcore.pool.conftest import all_gone, pool_config
from tests.tiny_model import TINY_PLUGIN

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(
    not (ROOT / "dreamcore/engine/dreamer.py").exists(),
    reason="dreamcore.engine.dreamer not written yet",
)


def small_png(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


async def test_real_dreamer_runs_in_a_worker(backend: str) -> None:
    from PIL import Image

    engine = EngineConfig(device="cpu", models=("tiny",), model_plugins=TINY_PLUGIN)
    request = DreamRequest(
        image=small_png(80, 60), params=make_params(model="tiny", octaves=2, steps=2, seed=3)
    )
    config = pool_config(warm_models=("tiny",), backend=backend)
    async with make_backend(config, engine) as pool:
        pids = pool.worker_pids()
        job = pool.submit(request)
        events = [e async for e in job.events()]
        result = await job.result()
    assert [e.kind for e in events if e.kind != "progress"] == ["started", "done"]
    progress = [e.progress for e in events if e.progress is not None]
    assert progress and progress[-1].fraction == 1.0
    assert result.format == "png" and (result.width, result.height) == (80, 60)
    assert Image.open(io.BytesIO(result.image)).size == (80, 60)
    await all_gone(pids)
