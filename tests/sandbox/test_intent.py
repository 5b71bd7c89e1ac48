"""A sandbox whose local Discord refuses the privileged Message Content intent (the Developer
Portal switch off): the refusal and its consequences show up as they happen."""

from __future__ import annotations

import aiohttp
import pytest_asyncio

from tests.bot.conftest import E2E, png_bytes
from tests.sandbox.conftest import sandbox_settings, start_sandbox

pytestmark = E2E


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox():
    running = await start_sandbox(sandbox_settings(grant_message_content=False))
    yield running
    await running.stop()


async def test_the_refusal_and_what_it_costs_are_shown(sandbox):
    bridge = sandbox.bridge
    rules = [(n["rule"], n["level"]) for n in bridge.rules.notices]
    assert ("intent", "error") in rules and ("intent", "info") in rules
    bot = bridge.bot()
    assert bot["phase"] == "online" and bot["refused_message_content"]
    assert not bot["message_content"]

    alice = sandbox.personas[0]["id"]
    data = aiohttp.FormData()
    data.add_field("user", alice)
    data.add_field("file0", png_bytes(), filename="cat.png", content_type="image/png")
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        async with http.post("/api/message", data=data) as resp:
            mid = (await resp.json())["id"]
        body = {"user": alice, "message_id": mid, "emoji": "🌀"}
        async with http.post("/api/reaction", json=body) as resp:
            assert resp.status == 200
    view = bridge.message(sandbox.local.state.messages[mid])
    assert view["hidden_from_bot"]
    last = bridge.rules.notices[-1]
    assert last["rule"] == "intent" and last["message_id"] == mid
    assert "cannot re-dream it" in last["text"]
