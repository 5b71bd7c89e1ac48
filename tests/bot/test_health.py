"""/healthz and the process lifecycle: 200 on a running bot, 503 naming what failed, SIGTERM
drains."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from bot.health import HealthServer, health
from bot.metrics import BotMetrics
from bot.settings import HealthConfig
from bot.store import Store
from tests.bot.conftest import RunningBot, make_settings

E2E = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]


class StubPool:
    def __init__(self, alive: int) -> None:
        self.alive = alive

    def stats(self):
        return SimpleNamespace(
            workers_alive=self.alive, workers_busy=0, queue_depth=0, worker_restarts=0
        )


async def get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.fixture
def health_settings(fake, tmp_path):
    return make_settings(fake, tmp_path / "h.sqlite3", health=HealthConfig(enabled=True, port=0))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_healthz_on_a_running_bot_then_503_for_each_failed_part(
    fake, pool, health_settings, tmp_path
):
    runner = RunningBot(fake, health_settings, pool)
    bot = await runner.start()
    try:
        url = f"{bot.health.url}/healthz"
        assert await get_json(url) == (
            200,
            {"status": "ok", "gateway": True, "workers_alive": 1, "database": True},
        )

        services = bot.services
        real_pool, services.backend = services.backend, StubPool(alive=0)  # no live worker
        try:
            status, body = await get_json(url)
        finally:
            services.backend = real_pool
        assert status == 503
        assert body == {
            "status": "unhealthy",
            "gateway": True,
            "workers_alive": 0,
            "database": True,
        }

        closed = await Store.open(tmp_path / "closed.sqlite3")
        await closed.close()
        real_store, services.store = services.store, closed  # a closed database
        try:
            status, body = await get_json(url)
        finally:
            services.store = real_store
        assert status == 503
        assert body == {
            "status": "unhealthy",
            "gateway": True,
            "workers_alive": 1,
            "database": False,
        }
        assert (await get_json(url))[0] == 200
    finally:
        await runner.stop()
    assert bot.health is None  # close() stopped the server
    with pytest.raises(aiohttp.ClientConnectionError):
        await get_json(url)


@pytest.mark.asyncio(loop_scope="module")
async def test_database_locked_by_another_writer_is_unhealthy(tmp_path):
    path = tmp_path / "locked.sqlite3"
    store = await Store.open(path, busy_timeout_s=0.2)
    bot = SimpleNamespace(
        is_closed=lambda: False, is_ready=lambda: True, ws=SimpleNamespace(open=True)
    )
    backend = StubPool(alive=2)
    try:
        assert await health(bot, backend, store) == (
            True,
            {"status": "ok", "gateway": True, "workers_alive": 2, "database": True},
        )
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        try:
            ok, body = await health(bot, backend, store)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert not ok and body["database"] is False
        version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
        assert version > 0  # the probe left the schema alone
    finally:
        await store.close()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("closed", "ready", "ws", "gateway"),
    [
        (True, True, SimpleNamespace(open=True), False),
        (False, False, SimpleNamespace(open=True), False),
        (False, True, None, False),
        (False, True, SimpleNamespace(open=False), False),
        (False, True, SimpleNamespace(open=True), True),
    ],
)
async def test_gateway_check(closed, ready, ws, gateway, tmp_path):
    async with await Store.open(tmp_path / "g.sqlite3") as store:
        bot = SimpleNamespace(is_closed=lambda: closed, is_ready=lambda: ready, ws=ws)
        services = SimpleNamespace(backend=StubPool(1), store=store)
        server = HealthServer(bot, services, BotMetrics(), port=0)
        await server.start()
        try:
            status, body = await get_json(f"{server.url}/healthz")
        finally:
            await server.stop()
    assert body["gateway"] is gateway and status == (200 if gateway else 503)


@pytest.mark.asyncio(loop_scope="module")
async def test_busy_port_fails_loudly():
    first = HealthServer(SimpleNamespace(), SimpleNamespace(), BotMetrics(), port=0)
    await first.start()
    try:
        second = HealthServer(SimpleNamespace(), SimpleNamespace(), BotMetrics(), port=first.port)
        with pytest.raises(OSError):
            await second.start()
    finally:
        await first.stop()


# --- `dreambot run` as a process: ready, healthy, a dream mid-run, SIGTERM -> drained, exit 0 -----


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:  # fields: state, ppid, ...
            kids.append(int(entry))
    return kids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(180)
async def test_sigterm_finishes_the_running_dream_and_exits_cleanly(fake, tmp_path):
    from tests.bot.conftest import dream, has_file
    from tests.gates import HANDLER, Gate

    gate = Gate(tmp_path)
    env = {
        **os.environ,
        "DREAMBOT_POOL__HANDLER": HANDLER,  # the dream below waits mid-way for the test
        "DREAMBOT_CONFIG": str(ROOT / "config" / "default.toml"),
        "DREAMBOT_DISCORD__TOKEN": fake.token,  # the only one the local Discord lets in
        "DREAMBOT_DISCORD__API_BASE": fake.api_base,
        "DREAMBOT_DISCORD__GATEWAY_URL": fake.gateway_url,
        "DREAMBOT_DISCORD__PROGRESS_INTERVAL_S": "0.5",
        "DREAMBOT_ENGINE__DEVICE": "cpu",
        "DREAMBOT_ENGINE__DEFAULT_MODEL": "tiny",
        "DREAMBOT_ENGINE__MODELS": '["tiny"]',
        "DREAMBOT_ENGINE__MODEL_PLUGINS": '["tests.tiny_model"]',
        "DREAMBOT_ENGINE__MAX_SIDE_CAP": "256",
        "DREAMBOT_ENGINE__OFFLINE": "true",
        "DREAMBOT_POOL__WORKERS": "1",
        "DREAMBOT_POOL__CPU_WORKERS": "1",
        "DREAMBOT_POOL__THREADS_PER_WORKER": "1",
        "DREAMBOT_POOL__WARM_MODELS": '["tiny"]',
        "DREAMBOT_POOL__SHUTDOWN_TIMEOUT_S": "20",
        "DREAMBOT_STORE__PATH": str(tmp_path / "run.sqlite3"),
        "DREAMBOT_INTAKE__ALLOWED_HOSTS": '["127.0.0.1"]',
        "DREAMBOT_HEALTH__PORT": "0",
        "DREAMBOT_LOG__LEVEL": "DEBUG",
        "DREAMBOT_LOG__FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dreambot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    health_url: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def read_stderr() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace")
            lines.append(line)
            with contextlib.suppress(ValueError, KeyError):
                msg = json.loads(line)["msg"]
                if msg.startswith("health and metrics on ") and not health_url.done():
                    health_url.set_result(msg.split()[4])

    reader = asyncio.create_task(read_stderr())
    try:
        await fake.wait_for_commands(90)  # synced in setup_hook, before the gateway connects
        url = await asyncio.wait_for(health_url, 10)
        await fake.wait_until_ready(30)
        for _ in range(100):  # READY is processed a moment after the fake sent it
            status, body = await get_json(f"{url}/healthz")
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200 and body["workers_alive"] == 1, body
        workers = children_of(proc.pid)
        assert workers, "no worker process found"

        alice = fake.add_member(name="alice")
        rec = await dream(fake, alice, gate.png(256), octaves=2, steps=3, size=256)
        await rec.wait_until(
            lambda r: r.original and "octave" in r.original["content"], 60
        )  # mid-dream, held at the gate
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        for _ in range(
            300
        ):  # until the bot has taken the signal (polling its log, no deadline race)
            if any("SIGTERM: shutting down" in line for line in lines):
                break
            await asyncio.sleep(0.05)
        gate.release()  # the running dream may finish now, after the signal
        code = await asyncio.wait_for(proc.wait(), 30)
        took = time.monotonic() - t0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await asyncio.wait_for(reader, 10)
        gate.close()
    log_text = "".join(lines)
    assert code == 0, log_text[-3000:]
    assert took < 30
    assert has_file(rec.original) or any(has_file(m) for m in rec.messages), (
        "the running dream was not posted"
    )
    assert "SIGTERM: shutting down" in log_text
    signalled = next(i for i, line in enumerate(lines) if "SIGTERM: shutting down" in line)
    done = next(i for i, line in enumerate(lines) if '"status": "done"' in line)
    assert signalled < done, "the dream should still have been running when SIGTERM came"
    assert fake.token not in log_text
    for _ in range(50):  # orphans would be re-parented; give a reaped child a moment to vanish
        if not any(alive(pid) for pid in workers):
            break
        await asyncio.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], "worker processes survived the bot"
    rows = sqlite3.connect(tmp_path / "run.sqlite3").execute("SELECT status FROM ledger").fetchall()
    assert rows == [("done",)]
