"""A running sandbox for the tests: the tiny model, a page on a free port, the real bot and pool.

Answers are measured but not refused after 3 s (`enforce_ack=False`): on a loaded test machine a
slow answer must not decide a test. The rules that do enforce deadlines have tests of their own.
"""

from __future__ import annotations

import pytest_asyncio

from bot.settings import (
    DiscordConfig,
    HealthConfig,
    QuotaConfig,
    SandboxConfig,
    Settings,
)
from sandbox.models import ModelReport
from sandbox.session import Sandbox
from tests.bot.conftest import ENGINE, POOL

READY_TIMEOUT_S = 240  # bounds a failing start (workers start in seconds, slower under load)


def sandbox_settings(**sandbox) -> Settings:
    return Settings(
        engine=ENGINE,
        pool=POOL,
        discord=DiscordConfig(progress_interval_s=0.5),
        quota=QuotaConfig(),
        health=HealthConfig(enabled=False),
        sandbox=SandboxConfig(port=0, **sandbox),
    )


async def start_sandbox(settings: Settings) -> Sandbox:
    sandbox = Sandbox(settings, ModelReport(("tiny",)), port=0, enforce_ack=False)
    await sandbox.start()
    try:
        await sandbox.local.wait_until_ready(READY_TIMEOUT_S)
        await sandbox.local.wait_for_commands(READY_TIMEOUT_S)
    except BaseException:
        await sandbox.stop()
        raise
    return sandbox


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox():
    running = await start_sandbox(sandbox_settings())
    yield running
    await running.stop()
