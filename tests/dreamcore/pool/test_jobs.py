"""Ordinary traffic: results, FIFO order, positions, events, queue bound, queued cancel.

Every test taking `make_pool` or `backend` runs on both backends (local processes, Ray actors)."""

from __future__ import annotations

import asyncio

import pytest

from dreamcore.errors import DreamCancelled, QueueFull
from dreamcore.pool import DreamBackend, JobEvent
from tests.dreamcore.pool.conftest import MakePool, cores, held, new_pool, request
from tests.dreamcore.pool.handlers import expected_digest
from tests.gates import Gate


async def collect(job) -> list[JobEvent]:
    return [event async for event in job.events()]


async def test_many_jobs_on_two_workers_complete_correctly_in_fifo_order(
    make_pool: MakePool,
) -> None:
    pool = await make_pool(workers=2)
    assert isinstance(pool, DreamBackend)
    pids = pool.worker_pids()
    assert len(pids) == 2
    jobs = [pool.submit(request(i=i, steps=3, sleep=0.02), job_id=f"job{i}") for i in range(16)]
    watchers = [asyncio.create_task(collect(job)) for job in jobs]
    results = await asyncio.gather(*(job.result() for job in jobs))
    events = await asyncio.gather(*watchers)

    for job, result in zip(jobs, results, strict=True):
        assert result.image == expected_digest(job.request.image)  # each job got its own answer
        assert job.state == "done" and job.position is None
    assert {r.seed for r in results} == set(pids)  # both workers served
    starts = [job.started_at for job in jobs]
    assert starts == sorted(starts)  # FIFO
    for stream in events:
        assert stream[-1].kind == "done"
        assert any(e.kind == "progress" for e in stream)
    stats = pool.stats()
    assert (stats.jobs_done, stats.queue_depth, stats.workers_alive, stats.workers_total) == (
        16,
        0,
        2,
        2,
    )
    assert stats.mean_job_seconds is not None and stats.mean_job_seconds > 0.05


async def test_worker_gets_its_device_threads_and_warm_models(
    make_pool: MakePool, backend: str
) -> None:
    pool = await make_pool(workers=2, threads_per_worker=0)
    result = await pool.submit(request(steps=1)).result()
    expected_threads = max(1, cores(backend) // 2)
    assert result.notes == ("device=cpu", f"threads={expected_threads}", "warmed=tiny")


async def test_positions_are_reported_while_waiting(make_pool: MakePool) -> None:
    pool = await make_pool()
    jobs = [pool.submit(request(i=i, steps=4, sleep=0.02)) for i in range(4)]
    assert [j.position for j in jobs] == [0, 1, 2, 3]
    assert [j.state for j in jobs] == ["running", "queued", "queued", "queued"]
    events = await collect(jobs[3])
    queued = [e.position for e in events if e.kind == "queued"]
    assert queued == [3, 2, 1]
    assert [e.kind for e in events][-2:] != ["queued", "done"]  # started in between
    assert "started" in [e.kind for e in events]


async def test_every_consumer_gets_every_event_and_late_ones_the_current_state(
    make_pool: MakePool,
) -> None:
    pool = await make_pool()
    job = pool.submit(request(steps=5, sleep=0.03))
    first, second = asyncio.create_task(collect(job)), asyncio.create_task(collect(job))
    await job.result()
    a, b = await first, await second
    assert [e.kind for e in a] == [e.kind for e in b]
    assert a[0].kind == "started" and a[-1].kind == "done" and a[-1].result is not None
    assert [e.kind for e in await collect(job)] == ["done"]


async def test_queue_full_past_the_bound(make_pool: MakePool, hold: Gate) -> None:
    pool = await make_pool(queue_size=2)
    running = pool.submit(held(hold))
    waiting = [pool.submit(request(i=i)) for i in range(2)]
    with pytest.raises(QueueFull):
        pool.submit(request(i=99))
    assert pool.stats().queue_depth == 2
    hold.release()
    await asyncio.gather(*(job.result() for job in (running, *waiting)))
    assert pool.submit(request(i=100)).position in (0, 1)  # room again


async def test_cancel_queued_job_is_removed_at_once(make_pool: MakePool, hold: Gate) -> None:
    pool = await make_pool()
    running = pool.submit(held(hold))
    doomed, after = pool.submit(request(i=1)), pool.submit(request(i=2))
    assert after.position == 2
    doomed.cancel()
    assert doomed.state == "cancelled" and after.position == 1
    with pytest.raises(DreamCancelled):
        await doomed.result()
    hold.release()
    assert (await after.result()).image == expected_digest(after.request.image)
    await running.result()
    assert pool.stats().jobs_cancelled == 1


async def test_jobs_submitted_before_start_wait_for_workers(backend: str) -> None:
    pool = new_pool(backend)
    job = pool.submit(request(steps=1))
    assert job.state == "queued" and job.position == 1
    async with pool:
        assert (await job.result()).image == expected_digest(job.request.image)


async def test_coalesced_progress_keeps_an_unread_preview():
    from dreamcore.pool.jobs import _Feed
    from dreamcore.request import DreamProgress

    feed = _Feed()
    with_preview = DreamProgress(octave=1, octaves=2, step=3, steps=3, preview=b"jpg")
    later = DreamProgress(octave=2, octaves=2, step=1, steps=3)
    feed.put(JobEvent("progress", "j", progress=with_preview))
    feed.put(JobEvent("progress", "j", progress=later))  # the reader was slow: coalesced
    event = await feed.get()
    assert (event.progress.octave, event.progress.step, event.progress.preview) == (2, 1, b"jpg")
    newer = DreamProgress(octave=2, octaves=2, step=3, steps=3, preview=b"new")
    assert newer.keeping_preview_of(with_preview).preview == b"new"  # a newer preview wins
