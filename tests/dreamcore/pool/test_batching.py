"""A worker that holds several dreams at once (dreams_per_worker): the pool hands it that many,
their progress and results stay apart, a crash fails each of them, and with the real engine the
dreams it steps together come out as they do alone."""

from __future__ import annotations

import asyncio
import io

import numpy as np
from PIL import Image

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import WorkerCrashed
from dreamcore.pool import make_backend
from dreamcore.pool.worker import GPU_DREAMS_PER_WORKER, dreams_per_worker
from dreamcore.request import DreamRequest, make_params
from tests.dreamcore.pool.conftest import MakePool, held, pool_config, request, wait_until
from tests.dreamcore.pool.handlers import expected_digest
from tests.gates import Gate
from tests.helpers import noise_png
from tests.tiny_model import TINY_PLUGIN


def test_a_gpu_worker_holds_several_dreams_and_a_cpu_worker_one():
    auto = PoolConfig()
    assert dreams_per_worker(auto, EngineConfig(device="cuda:0")) == GPU_DREAMS_PER_WORKER
    assert dreams_per_worker(auto, EngineConfig(device="cpu")) == 1
    assert dreams_per_worker(auto, EngineConfig(device="cuda", batching="off")) == 1
    assert dreams_per_worker(PoolConfig(dreams_per_worker=3), EngineConfig(device="cpu")) == 3


async def test_one_worker_runs_as_many_jobs_at_once_as_it_holds(
    make_local_pool: MakePool, hold: Gate
) -> None:
    pool = await make_local_pool(dreams_per_worker=3)
    jobs = [pool.submit(held(hold, i=i)) for i in range(4)]
    await wait_until(lambda: sum(j.state == "running" for j in jobs) == 3, "three jobs running")
    assert jobs[3].state == "queued" and jobs[3].position == 1
    assert pool.stats().places == 3
    hold.release(4)
    results = await asyncio.gather(*(job.result() for job in jobs))
    for job, result in zip(jobs, results, strict=True):
        assert result.image == expected_digest(job.request.image)  # each its own answer
    assert len({r.seed for r in results}) == 1  # one process ran them all


async def test_a_crash_fails_every_job_the_worker_held(make_local_pool: MakePool) -> None:
    pool = await make_local_pool(dreams_per_worker=2)
    crashing = pool.submit(request(i=1, steps=50, sleep=0.05, crash_at=3))
    beside = pool.submit(request(i=2, steps=10**6, sleep=0.05))
    for job in (crashing, beside):
        try:
            await job.result()
        except WorkerCrashed:
            continue
        raise AssertionError(f"{job} did not fail with WorkerCrashed")
    assert (await pool.submit(request(i=3, steps=1)).result()).image  # a new worker took over


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


async def test_dreams_batched_in_a_worker_equal_their_lone_runs() -> None:
    from dreamcore.engine.dreamer import Dreamer

    engine = EngineConfig(device="cpu", models=("tiny",), model_plugins=TINY_PLUGIN, batching="on")
    requests = [
        DreamRequest(
            image=noise_png(size, seed=seed),
            params=make_params(model="tiny", octaves=2, steps=3, seed=seed),
        )
        for size, seed in (((120, 90), 1), ((110, 100), 2), ((96, 96), 3))
    ]
    alone = [Dreamer(engine).run(r).image for r in requests]
    config = pool_config(warm_models=("tiny",), dreams_per_worker=3)
    async with make_backend(config, engine) as pool:
        results = await asyncio.gather(*(pool.submit(r).result() for r in requests))
    for a, result in zip(alone, results, strict=True):
        assert np.abs(_pixels(a) - _pixels(result.image)).max() <= 1
