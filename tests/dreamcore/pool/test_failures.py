"""Crashes, timeouts, cancels and handler errors: the right error, and the pool keeps serving."""

from __future__ import annotations

import asyncio
import os
import signal
import time
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
from tests.dreamcore.pool.conftest import MakePool, pid_gone, request
from tests.dreamcore.pool.handlers import expected_digest

LONG = dict(steps=400, sleep=0.02)  # 8 s unless stopped


async def first_progress(job: Job) -> None:
    async for event in job.events():
        if event.kind == "progress":
            return
    raise AssertionError(f"{job} ended without progress")


async def started_within(job: Job, seconds: float) -> float:
    t0 = time.monotonic()
    async with asyncio.timeout(seconds):
        async for event in job.events():
            if event.kind in ("started", "progress", "done"):
                return time.monotonic() - t0
    raise AssertionError(f"{job} never started")


async def test_sigkilled_worker_fails_its_job_and_is_replaced(make_pool: MakePool) -> None:
    pool = await make_pool()
    job = pool.submit(request(**LONG))
    nxt = pool.submit(request(i=2))
    await first_progress(job)
    victim = job.worker_pid
    assert victim in pool.worker_pids()
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(WorkerCrashed):
        await job.result()
    assert time.monotonic() - t0 < 1.0  # sentinel watch, not slow polling
    result = await nxt.result()
    assert result.image == expected_digest(nxt.request.image)
    assert result.seed != victim and pid_gone(victim)
    stats = pool.stats()
    assert (stats.worker_restarts, stats.jobs_failed, stats.jobs_done, stats.workers_alive) == (
        1,
        1,
        1,
        1,
    )


async def test_os_exit_in_handler_is_a_crash(make_pool: MakePool) -> None:
    pool = await make_pool()
    job = pool.submit(request(steps=5, crash_at=2, crash="exit"))
    with pytest.raises(WorkerCrashed, match="exit code 7"):
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


async def test_timeout_fails_the_job_and_frees_the_worker_promptly(make_pool: MakePool) -> None:
    pool = await make_pool(job_timeout_s=0.5)
    job, nxt = pool.submit(request(**LONG)), pool.submit(request(i=2))
    pid = pool.worker_pids()[0]
    with pytest.raises(JobTimeout):
        await job.result()
    assert await started_within(nxt, 1.5) < 1.5
    assert (await nxt.result()).seed == pid  # the same worker: it stopped, no restart
    stats = pool.stats()
    assert (stats.jobs_timed_out, stats.jobs_failed, stats.worker_restarts) == (1, 1, 0)


async def test_cancel_running_job_frees_the_worker_promptly(make_pool: MakePool) -> None:
    pool = await make_pool()
    job, nxt = pool.submit(request(**LONG)), pool.submit(request(i=2))
    await first_progress(job)
    pid = job.worker_pid
    t0 = time.monotonic()
    job.cancel()
    with pytest.raises(DreamCancelled):
        await job.result()
    assert time.monotonic() - t0 < 0.1  # answered at once, before the worker confirms
    assert await started_within(nxt, 1.0) < 1.0
    assert (await nxt.result()).seed == pid
    assert pool.stats().worker_restarts == 0 and pool.stats().jobs_cancelled == 1


async def test_handler_ignoring_cancel_is_killed_and_replaced(make_pool: MakePool) -> None:
    pool = await make_pool("StubbornHandler", cancel_grace_s=0.3)
    job, nxt = pool.submit(request(**LONG)), pool.submit(request(i=2, steps=1))
    await first_progress(job)
    stubborn = job.worker_pid
    t0 = time.monotonic()
    job.cancel()
    with pytest.raises(DreamCancelled):
        await job.result()
    result = await nxt.result()
    assert time.monotonic() - t0 < 5.0  # grace + a fresh spawn
    assert result.seed != stubborn and pid_gone(stubborn)
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
    make_pool: MakePool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    monkeypatch.setenv("DREAMBOT_TEST_BREAK_WARM", str(broken))
    pool = await make_pool("WarmFailsOnceBrokenHandler")
    broken.touch()
    os.kill(pool.worker_pids()[0], signal.SIGKILL)
    while pool.stats().workers_alive:  # let the pool notice, so the job is not sent to the dead one
        await asyncio.sleep(0.01)
    waiting = pool.submit(request(i=1))
    await asyncio.sleep(3.0)
    # immediate restart, then 0.5 s, 1 s, 2 s apart: at most 4 attempts in 3 s (a spin would be ~10)
    assert 2 <= pool.stats().worker_restarts <= 4
    assert pool.stats().workers_alive == 0 and waiting.state == "queued"
