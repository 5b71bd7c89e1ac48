"""`dreambot sandbox` as a user runs it: a process that checks the models, prints the page's
address, runs the bot until Ctrl-C and exits cleanly; or says which weights to fetch when it has
none."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(240)
BOUND_S = 180  # bounds a failing run; nothing here measures time

TINY = {
    "DREAMBOT_ENGINE__DEVICE": "cpu",
    "DREAMBOT_ENGINE__MODELS": '["tiny"]',
    "DREAMBOT_ENGINE__MODEL_PLUGINS": '["tests.tiny_model"]',
    "DREAMBOT_ENGINE__DEFAULT_MODEL": "tiny",
    "DREAMBOT_POOL__WORKERS": "1",
    "DREAMBOT_POOL__THREADS_PER_WORKER": "1",
    "DREAMBOT_POOL__WARM_MODELS": '["tiny"]',
    "DREAMBOT_SANDBOX__PORT": "0",
}


async def start(env: dict[str, str]) -> asyncio.subprocess.Process:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DREAMBOT_")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dreambot",
        "sandbox",
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def line_with(proc: asyncio.subprocess.Process, text: str) -> tuple[str, list[str]]:
    seen = []
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise AssertionError(f"exited without printing {text!r}: {seen}")
        seen.append(line)
        if text in line:
            return line, seen


async def until_online(url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/events") as stream:
        async for raw in stream.content:
            line = raw.decode()
            if not line.startswith("data: "):
                continue
            event = json.loads(line.removeprefix("data: "))
            bot = event.get("bot") or {}
            if event["type"] in ("snapshot", "bot") and bot.get("phase") == "online":
                return


async def test_it_serves_the_page_runs_the_bot_and_stops_on_ctrl_c():
    proc = await start(TINY)
    try:
        line, seen = await asyncio.wait_for(line_with(proc, "open http://127.0.0.1:"), BOUND_S)
        assert any("models here: tiny" in s for s in seen)
        url = line.split("open ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200 and "dreambot sandbox" in await resp.text()
        await asyncio.wait_for(until_online(url), BOUND_S)
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), BOUND_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = (await proc.stderr.read()).decode()
    assert code == 0, err
    assert "Traceback" not in err


async def test_without_weights_it_says_how_to_get_them(tmp_path):
    env = {
        "DREAMBOT_ENGINE__MODELS": '["inception5h"]',
        "DREAMBOT_ENGINE__CACHE_DIR": str(tmp_path),
        "DREAMBOT_SANDBOX__PORT": "0",
    }
    proc = await start(env)
    out, _ = await asyncio.wait_for(proc.communicate(), BOUND_S)
    text = out.decode()
    assert proc.returncode == 2
    assert "inception5h is not available" in text and "dreambot fetch-weights inception5h" in text
