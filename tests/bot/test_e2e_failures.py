"""Failure paths end to end: a worker killed mid-job, an expired token, a tiny upload limit."""

import os
import signal

import pytest_asyncio

from localdiscord.server import FakeDiscord
from tests.bot.conftest import (
    E2E,
    RunningBot,
    dream,
    finished_result,
    has_file,
    make_settings,
    png_bytes,
    wait_ledger,
)

pytestmark = E2E
LIMIT = 50_000  # below a 160 px noisy PNG (~75 kB), above half of it
SLOW = {"octaves": 2, "steps": 3, "size": 160}  # two octaves: the gate holds it after the first


async def test_worker_killed_mid_job_refunds_and_tells_the_user(fake, bot, pool, gate):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(160), **SLOW)  # held after its first octave
    await rec.wait_until(lambda r: r.original and "octave" in r.original["content"], 60)
    for pid in pool.worker_pids():
        os.kill(pid, signal.SIGKILL)
    text = await rec.wait_until(
        lambda r: r.original and "crashed" in r.original["content"] and r.original["content"], 30
    )
    rows = await wait_ledger(bot, lambda rows: rows and rows[0].status == "failed")
    assert rows[0].job_id in text and rows[0].cost == 0
    assert not has_file(rec.original)


async def test_expired_token_posts_the_result_in_the_channel(fake, bot, gate):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(160), **SLOW)
    await rec.wait_until(lambda r: r.original and "octave" in r.original["content"], 60)
    fake.expire_token(rec.token)  # while the dream waits at the gate
    gate.release()
    uid = alice["user"]["id"]
    msg = await fake.wait_for(
        lambda: next(
            (m for m in fake.messages_in() if has_file(m) and f"<@{uid}>" in m["content"]), None
        ),
        60,
    )
    assert msg["attachments"][0]["filename"].startswith("dream.")
    await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")


@pytest_asyncio.fixture(loop_scope="module")
async def small_fake():
    async with FakeDiscord(filesize_limit=LIMIT) as f:
        yield f


async def test_result_over_the_upload_limit_is_reencoded(small_fake, pool, tmp_path):
    runner = RunningBot(small_fake, make_settings(small_fake, tmp_path / "s.sqlite3"), pool)
    bot = await runner.start()
    try:
        alice = small_fake.add_member(name="alice")
        rec = await dream(small_fake, alice, png_bytes(160), octaves=1, steps=2, size=160)
        msg = await finished_result(rec)
        assert len(msg["attachments"][0]["data"]) <= LIMIT
        await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
        # reactions use guild.filesize_limit (10 MiB) -> the fake answers 413 -> re-encoded once
        await small_fake.add_reaction(msg["id"], "🌀", user=alice)
        reply = await small_fake.wait_for(
            lambda: next(
                (m for m in small_fake.messages_in() if has_file(m) and m["id"] != msg["id"]), None
            ),
            60,
        )
        assert len(reply["attachments"][0]["data"]) <= LIMIT
        posts = [
            r.status for r in small_fake.find_requests("POST", "/channels/*/messages") if r.files
        ]
        assert posts == [413, 200]  # refused once, then re-encoded smaller
    finally:
        await runner.stop()
