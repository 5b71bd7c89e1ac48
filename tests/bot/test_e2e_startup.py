"""Startup end to end: reservations lost in a crash are reported; a refused Message Content
intent."""

import asyncio
import logging

import pytest_asyncio

from bot.guilds import GuildSettings
from bot.ledger import Ledger
from bot.order import ImageRef, Order, Plan, Requester
from bot.quota import QuotaService
from bot.runner import INTENT_HELP, serve
from bot.store import Store
from bot.tasks import Tasks
from dreamcore.request import make_params
from localdiscord.server import FakeDiscord
from tests.bot.conftest import E2E, RunningBot, make_settings

pytestmark = E2E
MESSAGE_CONTENT = 1 << 15


async def test_lost_reservation_is_refunded_and_the_user_told(fake, settings, pool):
    alice = fake.add_member(name="alice")
    store = await Store.open(settings.store.path)  # a previous run that crashed mid-job
    who = Requester(int(alice["user"]["id"]), int(fake.guild["id"]), int(fake.channel["id"]))
    params = make_params(model="tiny", layer="relu3")
    order = Order(
        "slash",
        who,
        GuildSettings(who.guild_id, (), None, True, "🌀"),
        Plan(params, ImageRef("")),
        params,
    )
    ledger = Ledger(store, QuotaService(store, settings.quota), Tasks())
    await ledger.reserve(order, "lostjob1")  # held, never settled: the run crashes here
    await store.close()
    runner = RunningBot(fake, settings, pool)
    bot = await runner.start()
    try:
        msg = await fake.wait_for(
            lambda: next((m for m in fake.messages_in() if "lostjob1" in m["content"]), None), 10
        )
        assert f"<@{alice['user']['id']}>" in msg["content"] and "not counted" in msg["content"]
        [row] = await bot.services.store.jobs()
        assert row.status == "lost" and row.cost == 0
    finally:
        await runner.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def strict_fake():
    async with FakeDiscord(allow_message_content=False) as f:
        yield f


async def test_refused_message_content_intent_restarts_without_it(
    strict_fake, pool, tmp_path, caplog
):
    settings = make_settings(strict_fake, tmp_path / "i.sqlite3")
    caplog.set_level(logging.INFO, logger="dreambot")
    task = asyncio.create_task(serve(settings, strict_fake.token, backend=pool))
    try:
        await strict_fake.wait_for(lambda: len(strict_fake.identifies) >= 2, 30)
        await strict_fake.wait_until_ready()
        first, second = strict_fake.identifies[:2]
        assert first["intents"] & MESSAGE_CONTENT and not second["intents"] & MESSAGE_CONTENT
        assert [r.getMessage() for r in caplog.records if r.name == "dreambot"] == [INTENT_HELP]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_workers_that_cannot_load_weights_stop_the_bot_with_one_clear_message(
    fake, tmp_path, caplog
):
    # A fresh machine, offline, without the default model's weights: no traceback, exit code 1.
    from bot.settings import Settings

    base = make_settings(fake, tmp_path / "w.sqlite3")
    engine = base.engine.model_copy(
        update={
            "offline": True,
            "cache_dir": tmp_path / "empty-cache",
            "models": ("inception5h", "tiny"),
        }
    )
    pool_cfg = base.pool.model_copy(
        update={"warm_models": ("inception5h",), "start_timeout_s": 120.0}
    )
    settings = Settings.model_construct(**{**dict(base), "engine": engine, "pool": pool_cfg})
    caplog.set_level(logging.INFO, logger="dreambot")
    code = await asyncio.wait_for(serve(settings, fake.token), 120)
    assert code == 1
    [line] = [
        r.getMessage()
        for r in caplog.records
        if r.name == "dreambot" and r.levelno >= logging.ERROR
    ]
    assert line.startswith("Could not start:") and "dreambot fetch-weights inception5h" in line
