"""Crashes, timeouts, cancels and handler errors: the right error, and the pool keeps serving.

Tests taking `make_pool` run on both backends; jobs that must still be running when the test acts
are held at a gate the test controls (`hold`), never "long enough"."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from dreamcore.errors import (
    DreamCancelled,
    DreamError,
    InvalidImage,
    JobTimeout,
    OutOfMemory,
    WorkerCrashed,
)
from dreamcore.pool import Job
from tests.dreamcore.pool.conftest import MakePool, held, pid_gone, request, wait_until
from tests.dreamcore.pool.handlers import expected_digest
from tests.gates import Gate


async def first_progress(job: Job) -> None:
    async for event in job.events():
        if event.kind == "progress":
            return
    raise AssertionError(f"{job} ended without progress")


async def started(job: Job) -> None:
    async for event in job.events():
        if event.kind in ("started", "progress", "done"):
            return
    raise AssertionError(f"{job} never started")


async def test_sigkilled_worker_fails_its_job_and_is_replaced(
    make_pool: MakePool, hold: Gate
) -> None:
    pool = await make_pool()
    job = pool.submit(held(hold))
    nxt = pool.submit(request(i=2))
    await first_progress(job)
    victim = job.worker_pid
    assert victim in pool.worker_pids()
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(WorkerCrashed):  # how soon: bench_pool.py (a test must not race it)
        await job.result()
    result = await nxt.result()
    assert result.image == expected_digest(nxt.request.image)
    assert result.seed != victim
    await wait_until(lambda: pid_gone(victim), "the killed worker to be reaped")
    stats = pool.stats()
    assert (stats.worker_restarts, stats.jobs_failed, stats.jobs_done, stats.workers_alive) == (
        1,
        1,
        1,
        1,
    )


async def test_os_exit_in_handler_is_a_crash(make_pool: MakePool, backend: str) -> None:
    pool = await make_pool()
    job = pool.submit(request(steps=5, crash_at=2, crash="exit"))
    with pytest.raises(WorkerCrashed, match="exit code 7" if backend == "local" else "stopped"):
        await job.result()
    assert (await pool.submit(request(i=1)).result()).image


async def test_crashed_job_is_retried_once_when_configured(
    make_pool: MakePool, tmp_path: Path
) -> None:
    pool = await make_pool(retry_crashed=True)
    job = pool.submit(request(steps=3, crash_at=2, crash_once_file=str(tmp_path / "crashed")))
    kinds = [e.kind async for e in job.events()]
    assert kinds.count("started") == 2 and kinds[-1] == "done"
    assert pool.stats().worker_restarts == 1
    always = pool.submit(request(steps=3, crash_at=1))  # crashes on the retry too
    with pytest.raises(WorkerCrashed):
        await always.result()


async def test_timeout_fails_the_job_and_frees_the_worker(make_pool: MakePool, hold: Gate) -> None:
    pool = await make_pool(job_timeout_s=0.5)
    job, nxt = pool.submit(held(hold)), pool.submit(request(i=2))
    pid = pool.worker_pids()[0]
    with pytest.raises(JobTimeout):
        await job.result()
    assert (await nxt.result()).seed == pid  # the same worker: it stopped, no restart
    stats = pool.stats()
    assert (stats.jobs_timed_out, stats.jobs_failed, stats.worker_restarts) == (1, 1, 0)


async def test_cancel_running_job_frees_the_worker(make_pool: MakePool, hold: Gate) -> None:
    pool = await make_pool()
    job, nxt = pool.submit(held(hold)), pool.submit(request(i=2))
    await first_progress(job)
    pid = job.worker_pid
    job.cancel()
    assert job.state == "cancelled"  # answered at once, before the worker confirms
    with pytest.raises(DreamCancelled):
        await job.result()
    await started(nxt)
    assert (await nxt.result()).seed == pid
    assert pool.stats().worker_restarts == 0 and pool.stats().jobs_cancelled == 1


async def test_handler_ignoring_cancel_is_killed_and_replaced(
    make_pool: MakePool, hold: Gate
) -> None:
    pool = await make_pool("StubbornHandler", cancel_grace_s=0.3)
    job, nxt = pool.submit(held(hold)), pool.submit(request(i=2, steps=1))
    await first_progress(job)
    stubborn = job.worker_pid
    job.cancel()
    with pytest.raises(DreamCancelled):
        await job.result()
    result = await nxt.result()  # only a kill frees the worker: the held job never ends
    assert result.seed != stubborn
    await wait_until(lambda: pid_gone(stubborn), "the stubborn worker to be reaped")
    assert pool.stats().worker_restarts == 1


async def test_handler_errors_fail_the_job_and_the_worker_survives(make_pool: MakePool) -> None:
    pool = await make_pool()
    pid = pool.worker_pids()[0]
    with pytest.raises(InvalidImage, match="not an image"):
        await pool.submit(request(fail="invalid_image")).result()
    boom = pool.submit(request(fail="boom"), job_id="boom-1")
    with pytest.raises(DreamError, match="boom-1") as info:
        await boom.result()
    assert type(info.value) is DreamError
    with pytest.raises(OutOfMemory, match="out of memory"):
        await pool.submit(request(fail="oom")).result()
    retried = await pool.submit(request(fail="oom_big_tiles")).result()  # retried with half tiles
    assert retried.height == 256
    assert pool.worker_pids() == [pid] and pool.stats().worker_restarts == 0


async def test_failing_restarts_back_off_instead_of_spinning(
    make_local_pool: MakePool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    monkeypatch.setenv("DREAMBOT_TEST_BREAK_WARM", str(broken))
    pool = await make_local_pool("WarmFailsOnceBrokenHandler")
    broken.touch()
    os.kill(pool.worker_pids()[0], signal.SIGKILL)
    # let the pool notice (it has no event for it), so the job is not sent to the dead one
    while pool.stats().workers_alive:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    waiting = pool.submit(request(i=1))
    await asyncio.sleep(3.0)
    # immediate restart, then 0.5 s, 1 s, 2 s apart: at most 4 attempts in 3 s (a spin would be ~10)
    assert 2 <= pool.stats().worker_restarts <= 4
    assert pool.stats().workers_alive == 0 and waiting.state == "queued"
