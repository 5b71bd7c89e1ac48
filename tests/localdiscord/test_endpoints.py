"""bot.endpoints.apply_endpoints and FakeDiscord.patch_discord (which point discord.py alike),
the AutoShardedClient path (GET /gateway/bot), raw HTTP behaviour."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord.ext import commands

from bot.endpoints import apply_endpoints

pytestmark = pytest.mark.timeout(30)


def test_apply_endpoints_sets_and_empty_keeps(monkeypatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", "https://discord.com/api/v10")
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL("wss://gateway.discord.gg/")
    )
    apply_endpoints("", "")
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == yarl.URL("wss://gateway.discord.gg/")
    apply_endpoints("http://127.0.0.1:1/api/v10/", "ws://127.0.0.1:1/gateway")
    assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:1/api/v10/users/@me"
    gw = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert isinstance(gw, yarl.URL) and str(gw) == "ws://127.0.0.1:1/gateway"


async def test_patch_discord_points_discord_py_where_the_bots_settings_do(
    fake_discord, monkeypatch
) -> None:
    # The local Discord imports nothing of the bot, so it sets discord.py's endpoints itself.
    patched = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    monkeypatch.setattr(discord.http.Route, "BASE", "https://discord.com/api/v10")
    apply_endpoints(fake_discord.api_base, fake_discord.gateway_url)
    assert (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == patched
    assert isinstance(patched[1], yarl.URL)


async def test_auto_sharded_bot_uses_gateway_bot(fake_discord) -> None:
    fake = fake_discord
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1
    )
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        assert fake.find_requests("GET", "/gateway/bot")
        assert fake.identifies[-1]["shard"] == [0, 1]
        assert bot.get_guild(int(fake.guild["id"])) is not None
    finally:
        await asyncio.wait_for(bot.close(), 10)
        await asyncio.wait_for(task, 10)


async def test_raw_http_json_content_type_and_unknown_route(fake_discord) -> None:
    fake = fake_discord
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {fake.token}"}) as s:
        async with s.get(f"{fake.api_base}/users/@me") as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            assert (await r.json())["id"] == fake.bot_user["id"]
        async with s.get(f"{fake.api_base}/no/such/route") as r:
            assert r.status == 404 and r.headers["Content-Type"] == "application/json"
            assert "no route for GET /no/such/route" in (await r.json())["message"]
        async with s.post(f"{fake.api_base}/webhooks/{fake.application_id}/nope") as r:
            assert r.status == 401 and (await r.json())["code"] == 50027
    assert fake.unhandled == ["GET /no/such/route"]
    fake.unhandled.clear()
