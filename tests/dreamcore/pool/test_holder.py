"""What a worker holds (pool/holder.py), without processes: capacity and room, the cancel-grace
kill of a job still held, the jobs beside a stuck one spared, and picking and counting workers."""

from __future__ import annotations

import asyncio

from dreamcore.pool.holder import JobHolder, most_room, places_of
from dreamcore.pool.jobs import Job
from tests.dreamcore.pool.conftest import request


def job() -> Job:
    return Job(request(), None, on_cancel=lambda _: None)


def up(capacity: int, holding: int = 0) -> JobHolder:
    worker = JobHolder(capacity=capacity, state="idle")
    for _ in range(holding):
        worker.hold(job())
    return worker


def test_room_is_capacity_less_what_it_holds_and_none_unless_up() -> None:
    worker = up(3)
    a, b = job(), job()
    worker.hold(a)
    worker.hold(b)
    assert (worker.room, worker.state) == (1, "busy")
    worker.release(a)
    worker.release(b)
    assert (worker.room, worker.state) == (3, "idle")
    assert JobHolder(capacity=3).room == 0  # starting
    assert JobHolder(capacity=3, state="dead").room == 0


async def test_a_job_still_held_after_the_grace_kills_its_worker_and_spares_the_others() -> None:
    worker, killed = up(2), asyncio.Event()
    stuck, beside = job(), job()
    worker.hold(stuck)
    worker.hold(beside)
    worker.kill_unless_dropped(stuck, 0.0, killed.set)
    await killed.wait()
    assert worker.spared  # the set runs `beside` again instead of failing it
    assert set(worker.drop_all()) == {stuck, beside}
    assert not worker.spared and worker.jobs == {} and worker.kills == {}


async def test_a_job_dropped_within_the_grace_kills_nothing() -> None:
    worker, kills = up(2), []
    dropped = job()
    worker.hold(dropped)
    worker.kill_unless_dropped(dropped, 0.0, lambda: kills.append(1))
    worker.release(dropped)  # it reported back: its timer goes with it
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert kills == [] and not worker.spared


def test_the_worker_with_most_room_is_picked_and_places_count_capacity() -> None:
    full, half, empty, starting = up(2, 2), up(4, 2), up(3), JobHolder(capacity=16)
    assert most_room([full, None, half, empty, starting]) is empty
    assert most_room([full, starting]) is None
    assert places_of([full, half, empty, starting]) == 2 + 4 + 3
