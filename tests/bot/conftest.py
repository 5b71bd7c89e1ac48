"""Fixtures for the bot's end-to-end tests: a loopback Discord, settings pointing at it, a real pool
with the tiny model (one per test module: workers take seconds to start), and a running DreamBot.

E2E modules run on a module-scoped event loop (`pytestmark = E2E`) so they can share the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image

from bot.client import DreamBot
from bot.settings import (
    DiscordConfig,
    HealthConfig,
    IntakeConfig,
    QuotaConfig,
    Settings,
    StoreConfig,
)
from dreamcore.config import EngineConfig, PoolConfig
from localdiscord import FakeDiscord, buttons_of, carries_dream
from tests.gates import HANDLER as GATED_HANDLER
from tests.gates import Gate
from tests.loopback_net import LoopbackNetwork
from tests.tiny_model import TINY_PLUGIN

E2E = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]
# vgg16-hed is offered (so refusals that name it can be tested) but never warmed or dreamed
ENGINE = EngineConfig(
    device="cpu",
    default_model="tiny",
    models=("tiny", "vgg16-hed"),
    max_side_cap=256,
    model_plugins=TINY_PLUGIN,
)
POOL = PoolConfig(
    workers=1,
    cpu_workers=1,
    threads_per_worker=1,
    warm_models=("tiny",),
    job_timeout_s=60,
    start_timeout_s=120,
    shutdown_timeout_s=10,
    cancel_grace_s=2,
)
FAST = {"octaves": 1, "steps": 2, "size": 64}  # /dream options that keep a tiny dream ~0.1 s


def png_bytes(side: int = 80, seed: int = 0, height: int | None = None) -> bytes:
    """A noisy RGB PNG (noise keeps the dream's output from compressing to nothing)."""
    im = Image.effect_noise((side, height or side), 40 + seed).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def make_settings(fake: FakeDiscord, store_path: Path, **sections) -> Settings:
    discord_cfg = dict(
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        cdn_base=fake.cdn_base,
        progress_interval_s=0.5,
        message_content_intent=True,
    )
    discord_cfg.update(sections.pop("discord", {}))
    values = dict(
        engine=ENGINE,
        pool=POOL,
        discord=DiscordConfig(**discord_cfg),
        store=StoreConfig(path=store_path),
        quota=QuotaConfig(**sections.pop("quota", {})),
        intake=IntakeConfig(allowed_hosts=("127.0.0.1",)),
        health=HealthConfig(enabled=False),
    )
    values.update(sections)
    return Settings(**values)


class RunningBot:
    """Starts a DreamBot as `bot.start()` in a task, waits for READY, closes it on `stop()`.
    Its links go through a loopback-only network (tests/loopback_net.py): `net`'s DNS table
    names what exists; nothing reaches the real DNS or any address off this machine."""

    def __init__(
        self, fake: FakeDiscord, settings: Settings, pool, net: LoopbackNetwork | None = None
    ) -> None:
        self.fake, self.settings, self.pool = fake, settings, pool
        self.net = net or LoopbackNetwork()
        self.bot: DreamBot | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> DreamBot:
        self.bot = DreamBot(self.settings, backend=self.pool, network=self.net.network())
        self._task = asyncio.create_task(self.bot.start(self.fake.token))
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=60, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises the startup error
            raise TimeoutError("bot did not become ready\n" + self.fake.dump())
        return self.bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 15)
        self.bot = self._task = None


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """Holds dreams of `gate.png()` images at the end of their first octave until released."""
    g = Gate(tmp_path_factory.mktemp("gate"))
    yield g
    g.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool(gate):
    from dreamcore.pool import LocalPool

    p = LocalPool(POOL, ENGINE, handler=GATED_HANDLER)
    await p.start()
    yield p
    await p.close(10)


@pytest_asyncio.fixture(loop_scope="module")
async def fake():
    async with FakeDiscord(allow_message_content=True) as f:
        yield f


@pytest.fixture
def settings(fake, tmp_path) -> Settings:
    return make_settings(fake, tmp_path / "bot.sqlite3")


@pytest_asyncio.fixture(loop_scope="module")
async def running(fake, settings, pool):
    runner = RunningBot(fake, settings, pool)
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
def bot(running) -> DreamBot:
    return running.bot


async def dream(
    fake: FakeDiscord,
    user,
    image=None,
    *,
    filename="in.png",
    ctype="image/png",
    channel=None,
    **options,
):
    """Run /dream with fast defaults; returns the InteractionRecord."""
    opts = {**FAST, **options}
    data = png_bytes() if image is None else image
    attachments = {"image": (filename, data, ctype)}
    return await fake.slash_command(
        "dream", opts, user=user, channel=channel, attachments=attachments
    )


def button(message: dict, action: str) -> str:
    """The custom_id of a result's button (`deeper`, or a variant's: `v2:deeper`), wherever it
    is nested."""
    ids = [b["custom_id"] for b in buttons_of(message)]
    return next(i for i in ids if i.startswith(f"dream:{action}:"))


has_file = carries_dream  # the message carries a dream (previews don't count)


async def finished_result(rec, timeout: float = 60.0) -> dict:
    """The interaction's response message once it carries a dream file."""
    return await rec.wait_until(
        lambda r: next((m for m in r.messages if has_file(m)), None), timeout
    )


async def wait_ledger(bot: DreamBot, predicate, timeout: float = 20.0):
    """Poll the ledger until `predicate(rows)` is truthy (charges land just after the upload)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await bot.services.store.jobs()
        if predicate(rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"ledger never matched: {rows}")
        await asyncio.sleep(0.1)
