from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from discord.ext import commands

from localdiscord.server import FakeDiscord

from ._testbot import Events, make_bot
from .fixtures import fake_discord  # noqa: F401


async def start_bot(fake: FakeDiscord, bot: commands.Bot) -> asyncio.Task[None]:
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_until_ready(10)
    except TimeoutError:
        if task.done():
            task.result()  # surface the bot's startup error
        raise
    await asyncio.wait_for(bot.wait_until_ready(), 10)
    return task


async def stop_bot(bot: commands.Bot, task: asyncio.Task[None]) -> None:
    await asyncio.wait_for(bot.close(), 10)
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def running(
    fake_discord: FakeDiscord,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[tuple[FakeDiscord, commands.Bot, Events]]:
    """The test bot, started against the fake and ready; closed afterwards. Fails on discord.py
    errors."""
    caplog.set_level(logging.WARNING, logger="discord")
    events = Events()
    bot = make_bot(events)
    task = await start_bot(fake_discord, bot)
    yield fake_discord, bot, events
    await stop_bot(bot, task)
    bad = [r for r in caplog.records if r.name.startswith("discord") and r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]
    assert not fake_discord.unhandled, fake_discord.unhandled
