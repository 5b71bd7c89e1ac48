"""A worker that holds several dreams at once (dreams_per_worker), on both backends (a local
worker process, a Ray actor): the pool hands it that many, their progress and results stay apart,
cancelling one leaves the others running, a death takes every job it held the same way on both,
and with the real engine the dreams it holds step in one batch and come out as they do alone.

Jobs that must be inside the worker at once are held at a gate the test controls (`hold`)."""

from __future__ import annotations

import asyncio
import io
import os
import signal

import numpy as np
import pytest
from PIL import Image

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamCancelled, WorkerCrashed
from dreamcore.pool import Job, make_backend
from dreamcore.pool.worker import GPU_DREAMS_PER_WORKER, dreams_per_worker
from dreamcore.request import DreamRequest, make_params
from tests.dreamcore.pool.conftest import MakePool, held, pid_gone, pool_config, request, wait_until
from tests.dreamcore.pool.handlers import expected_digest
from tests.dreamcore.pool.lockstep import LOCKSTEP
from tests.gates import Gate
from tests.helpers import noise_png
from tests.tiny_model import TINY_PLUGIN


async def progressed(job: Job) -> None:
    """Until the job has reported progress: it is in its worker's handler now."""
    async for event in job.events():
        if event.kind == "progress":
            return
    raise AssertionError(f"{job} ended without progress")


async def all_progressed(jobs: list[Job]) -> None:
    # held jobs wait at the gate after their first progress: all of them are in the worker at once
    await asyncio.wait_for(asyncio.gather(*(progressed(j) for j in jobs)), 60)  # a hang -> failure


def test_a_gpu_worker_holds_several_dreams_and_a_cpu_worker_one():
    auto = PoolConfig()
    assert dreams_per_worker(auto, EngineConfig(device="cuda:0")) == GPU_DREAMS_PER_WORKER
    assert dreams_per_worker(auto, EngineConfig(device="cpu")) == 1
    assert dreams_per_worker(auto, EngineConfig(device="cuda", batching="off")) == 1
    assert dreams_per_worker(PoolConfig(dreams_per_worker=3), EngineConfig(device="cpu")) == 3


async def test_one_worker_runs_as_many_jobs_at_once_as_it_holds(
    make_pool: MakePool, hold: Gate
) -> None:
    pool = await make_pool(dreams_per_worker=3)
    assert pool.stats().places == 3  # what wait estimates divide the queue by
    jobs = [pool.submit(held(hold, i=i)) for i in range(4)]
    await all_progressed(jobs[:3])
    assert jobs[3].state == "queued" and jobs[3].position == 1
    (pid,) = pool.worker_pids()
    assert {job.worker_pid for job in jobs[:3]} == {pid}
    stats = pool.stats()
    assert (stats.places, stats.workers_busy, stats.queue_depth) == (3, 1, 1)
    hold.release(4)
    results = await asyncio.gather(*(job.result() for job in jobs))
    for job, result in zip(jobs, results, strict=True):
        assert result.image == expected_digest(job.request.image)  # each its own answer
    assert {r.seed for r in results} == {pid}  # one worker ran them all


async def test_cancelling_one_held_job_leaves_the_others_running(
    make_pool: MakePool, hold: Gate
) -> None:
    pool = await make_pool(dreams_per_worker=3)
    jobs = [pool.submit(held(hold, i=i)) for i in range(4)]
    await all_progressed(jobs[:3])
    pid = jobs[0].worker_pid
    jobs[1].cancel()
    with pytest.raises(DreamCancelled):
        await jobs[1].result()
    await all_progressed(jobs[3:])  # its place went to the next in line, on the same worker
    assert jobs[3].worker_pid == pid
    assert [job.state for job in jobs] == ["running", "cancelled", "running", "running"]
    hold.release(3)
    kept = [jobs[0], jobs[2], jobs[3]]
    results = await asyncio.gather(*(job.result() for job in kept))
    assert {r.seed for r in results} == {pid}
    stats = pool.stats()
    assert (stats.jobs_done, stats.jobs_cancelled, stats.worker_restarts) == (3, 1, 0)


async def test_a_crash_fails_every_job_the_worker_held(make_pool: MakePool, hold: Gate) -> None:
    pool = await make_pool(dreams_per_worker=2)
    jobs = [pool.submit(held(hold, i=i)) for i in range(2)]
    await all_progressed(jobs)
    victim = jobs[0].worker_pid
    os.kill(victim, signal.SIGKILL)
    for job in jobs:
        with pytest.raises(WorkerCrashed, match=f"during job {job.id}"):
            await job.result()
    result = await pool.submit(request(i=3, steps=1)).result()  # a new worker took over
    assert result.seed != victim
    stats = pool.stats()
    assert (stats.jobs_failed, stats.jobs_done, stats.worker_restarts) == (2, 1, 1)


async def test_with_retry_a_crash_runs_every_held_job_again(
    make_pool: MakePool, hold: Gate
) -> None:
    pool = await make_pool(dreams_per_worker=2, retry_crashed=True)
    jobs = [pool.submit(held(hold, i=i)) for i in range(2)]
    await all_progressed(jobs)
    victim = jobs[0].worker_pid
    os.kill(victim, signal.SIGKILL)
    hold.release(2)  # for their second runs
    results = await asyncio.gather(*(job.result() for job in jobs))
    assert victim not in {r.seed for r in results}
    assert all(job.attempts == 2 for job in jobs)
    assert pool.stats().jobs_done == 2 and pool.stats().worker_restarts == 1


async def test_a_worker_killed_for_ignoring_a_cancel_runs_its_other_jobs_again(
    make_pool: MakePool, hold: Gate
) -> None:
    pool = await make_pool("StubbornHandler", dreams_per_worker=2, cancel_grace_s=0.3)
    stuck, beside = pool.submit(held(hold, i=1)), pool.submit(held(hold, i=2))
    await all_progressed([stuck, beside])
    stubborn = stuck.worker_pid
    stuck.cancel()
    with pytest.raises(DreamCancelled):
        await stuck.result()
    # the dream beside the stuck one did nothing wrong: it runs again on the new worker, first
    # in line, its lost run not counted as an attempt (it would fail without retry_crashed)
    await wait_until(lambda: pid_gone(stubborn), "the stubborn worker killed")
    hold.release(1)
    result = await beside.result()
    assert result.seed != stubborn and beside.attempts == 1
    stats = pool.stats()
    assert (stats.jobs_cancelled, stats.jobs_failed, stats.jobs_done) == (1, 0, 1)
    assert stats.worker_restarts == 1


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


async def test_dreams_held_together_step_in_one_batch_and_equal_their_lone_runs(
    backend: str,
) -> None:
    from dreamcore.engine.dreamer import Dreamer

    engine = EngineConfig(device="cpu", models=("tiny",), model_plugins=TINY_PLUGIN, batching="on")
    requests = [
        DreamRequest(
            image=noise_png(size, seed=seed),
            params=make_params(model="tiny", octaves=2, steps=3, seed=seed),
        )
        for size, seed in (((120, 90), 1), ((110, 100), 2), ((96, 96), 3))
    ]
    assert len(requests) == LOCKSTEP
    alone = [Dreamer(engine).run(r).image for r in requests]
    config = pool_config(backend=backend, warm_models=("tiny",), dreams_per_worker=LOCKSTEP)
    handler = "tests.dreamcore.pool.lockstep:LockstepDreamer"
    async with make_backend(config, engine, handler) as pool:
        results = await asyncio.gather(*(pool.submit(r).result() for r in requests))
    for a, result in zip(alone, results, strict=True):
        assert np.abs(_pixels(a) - _pixels(result.image)).max() <= 1
        assert result.notes[-1] == f"largest_batch={LOCKSTEP}"  # one Dreamer stepped them all
