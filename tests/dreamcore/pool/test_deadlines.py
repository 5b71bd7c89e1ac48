"""Queued jobs do not wait forever: a maximum queue wait, and failing fast when no worker has
been alive for a while (issue 9 #7). Workers are held by a gate, so nothing races the clock:
the deadlines below are the only timers, and the jobs they cut could never have started."""

from __future__ import annotations

import os

import pytest

from dreamcore.errors import NoWorkers, QueueTimeout
from tests.dreamcore.pool.conftest import MakePool, request
from tests.gates import Gate


@pytest.fixture
def gate(tmp_path):
    g = Gate(tmp_path)
    yield g
    g.close()


async def test_a_job_that_waits_too_long_for_a_worker_fails_and_the_queue_moves_up(
    make_pool: MakePool, gate: Gate
) -> None:
    pool = await make_pool(max_queue_wait_s=0.3)
    held = pool.submit(request(gate=str(gate.path)))  # occupies the only worker
    waiting = pool.submit(request(i=1))
    with pytest.raises(QueueTimeout):
        await waiting.result()
    assert waiting.state == "failed" and pool.stats().queue_depth == 0
    gate.release()
    assert (await held.result()).image  # the running job was never cut by the queue deadline


async def test_queued_jobs_fail_when_no_worker_has_lived_for_the_grace(
    make_local_pool: MakePool, gate: Gate, tmp_path, monkeypatch
) -> None:
    # local only: the handler learns of its broken weights through this process's environment
    broken = tmp_path / "break-warm"
    monkeypatch.setenv("DREAMBOT_TEST_BREAK_WARM", str(broken))
    pool = await make_local_pool("WarmFailsOnceBrokenHandler", no_worker_grace_s=0.5)
    held = pool.submit(request(gate=str(gate.path)))
    queued = pool.submit(request(i=1))
    await held.events().__anext__()  # started... (the first event is its state)
    broken.touch()  # from now on a restarted worker cannot start
    assert pool.stats().workers_down_s is None
    os.kill(pool.worker_pids()[0], 9)
    with pytest.raises(NoWorkers):
        await queued.result()
    stats = pool.stats()
    assert stats.workers_alive == 0 and stats.workers_down_s >= 0.5
    with pytest.raises(NoWorkers):
        pool.submit(request(i=2))  # refused at once while no worker lives
