"""The same bot on the Ray backend (`pool.backend = "ray"`), end to end against the local
Discord: a dream with progress, a reaction, the buttons, a quota refusal, a killed worker; and
`dreambot run` on Ray stopped with SIGTERM. Nothing in bot/ knows which backend it drives.

Actors run on the session's local Ray (2 CPUs, 2 fake GPUs; tests/dreamcore/pool/raycluster.py).
"""

import os
import signal

import pytest
import pytest_asyncio

from dreamcore.pool import make_backend
from tests.bot.conftest import (
    E2E,
    ENGINE,
    POOL,
    RunningBot,
    button,
    dream,
    finished_result,
    make_settings,
    wait_ledger,
)
from tests.gates import HANDLER as GATED_HANDLER

pytestmark = [*E2E, pytest.mark.timeout(300)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool(gate, ray_cluster):
    backend = make_backend(POOL.model_copy(update={"backend": "ray"}), ENGINE, GATED_HANDLER)
    await backend.start()
    yield backend
    await backend.close(10)


async def test_a_dream_with_progress_on_ray(fake, bot, pool, gate):
    assert type(pool).__name__ == "RayBackend"
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(128), octaves=2, steps=2, size=128)
    await rec.wait_until(lambda r: r.original and "octave 1/2" in r.original["content"], 60)
    gate.release()
    msg = await finished_result(rec)
    assert msg["attachments"][0]["filename"].startswith("dream.")
    [row] = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    assert row.cost == 1


async def test_a_reaction_and_the_buttons_on_ray(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    first = await finished_result(await dream(fake, alice))
    await fake.add_reaction(first["id"], "🌀", user=bob)
    for action in ("deeper", "reroll"):
        await finished_result(await fake.click_button(first, button(first, action), user=alice))
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 4 and all(r.status == "done" for r in rows)
    )
    assert sorted(r.source for r in rows) == ["button", "button", "reaction", "slash"]


async def test_quota_on_ray(fake, pool, tmp_path):
    runner = RunningBot(
        fake, make_settings(fake, tmp_path / "q.sqlite3", quota={"user_daily": 1}), pool
    )
    bot = await runner.start()
    try:
        alice = fake.add_member(name="alice")
        await finished_result(await dream(fake, alice))
        await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
        cb = await (await dream(fake, alice)).wait_for_callback(5)
        assert cb.data["flags"] & 64 and "for today" in cb.data["content"]
    finally:
        await runner.stop()


async def test_a_killed_actor_fails_its_job_refunded_and_the_fleet_recovers(fake, bot, pool, gate):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(128), octaves=2, steps=2, size=128)
    await rec.wait_until(lambda r: r.original and "octave" in r.original["content"], 60)
    busy = {pid for pid in pool.worker_pids()}
    for pid in busy:  # kill every actor's process: the one dreaming among them
        os.kill(pid, signal.SIGKILL)
    await rec.wait_until(lambda r: r.original and "crashed" in r.original["content"], 60)
    [row] = await wait_ledger(bot, lambda rows: rows and rows[0].status == "failed")
    assert row.cost == 0
    await finished_result(await dream(fake, alice), 120)  # Ray brings the actors back


async def test_dreambot_run_on_ray_finishes_the_running_dream_on_sigterm(fake, tmp_path):
    # A real `dreambot run` process with DREAMBOT_POOL__BACKEND=ray: it starts a Ray of its own
    # (its own temp dir and token), dreams, and on SIGTERM finishes the running dream, posts
    # it, shuts its Ray down and exits 0, leaving no process behind.
    import tempfile

    pytest.importorskip("ray")  # as the other tests here skip through ray_cluster
    from tests.bot.test_e2e_restart import BotProcess, bot_env, ledger, poll, started, wait_gone
    from tests.dreamcore.pool.raycluster import subprocess_env
    from tests.gates import Gate

    gate = Gate(tmp_path)
    store = tmp_path / "bot.sqlite3"
    ray_tmp = tempfile.mkdtemp(prefix="dbray")  # short: Ray's socket paths are limited
    env = {**bot_env(fake, store, gate), **subprocess_env(ray_tmp)}
    env["DREAMBOT_POOL__BACKEND"] = "ray"
    env["DREAMBOT_POOL__START_TIMEOUT_S"] = "240"
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        bot.start()
        await started(fake, bot, len(fake.identifies), timeout=240)
        alice = fake.add_member(name="alice")
        rec = await dream(fake, alice, gate.png(128), octaves=2, steps=2, size=128)
        await rec.wait_until(lambda r: r.original and "octave" in r.original["content"], 120)
        procs = bot.processes()
        bot.proc.send_signal(signal.SIGTERM)
        await poll(lambda: "SIGTERM" in bot.tail(), 30, "the bot to take the signal", bot.tail)
        gate.release()  # the running dream may finish now: it must still be posted
        assert await bot.wait_exit(90) == 0, bot.tail()
        assert any(m.get("attachments") for m in rec.messages), bot.tail()
        assert [r["status"] for r in ledger(store)] == ["done"]
        assert not await wait_gone(procs, 30), bot.tail()
    finally:
        bot.close()
        gate.close()
