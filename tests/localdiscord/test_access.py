"""Only the bot, from this machine, gets into the local Discord: its REST API and gateway take the
token it issued and nothing else, and no web page (a foreign Origin, a DNS-rebound Host) gets in,
whatever token it holds. Uploaded files come back as the image they are, or as a download: never
as a page."""

from __future__ import annotations

import json

import aiohttp
import discord
import pytest

from ._testbot import PNG, Events, make_bot

pytestmark = pytest.mark.timeout(30)

EVIL = "http://evil.example"


def bot_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bot {token}"}


async def test_rest_takes_only_the_issued_token(fake_discord) -> None:
    fake = fake_discord
    messages = f"{fake.api_base}/channels/{fake.channel['id']}/messages"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, bot_auth("not-the-token"), {"Authorization": fake.token}):
            async with http.get(f"{fake.api_base}/users/@me", headers=headers) as r:
                assert r.status == 401 and (await r.json())["message"] == "401: Unauthorized"
            # a web page's `text/plain` POST, the kind a browser sends without asking first
            body = json.dumps({"content": "posted as the bot"})
            plain = {**headers, "Content-Type": "text/plain"}
            async with http.post(messages, data=body, headers=plain) as r:
                assert r.status == 401
        async with http.get(f"{fake.api_base}/users/@me", headers=bot_auth(fake.token)) as r:
            assert r.status == 200 and (await r.json())["id"] == fake.bot_user["id"]
    assert fake.messages_in() == []
    assert [r.path for r in fake.requests] == ["/users/@me"]  # refused ones never got in


async def test_discord_py_with_another_token_cannot_log_in(fake_discord) -> None:
    bot = make_bot(Events())
    with pytest.raises(discord.LoginFailure):
        await bot.start("some-other-token")
    await bot.close()
    assert not fake_discord.gateway.ready.is_set()


async def gateway_answer(fake, first: dict) -> tuple[list[dict], int | None]:
    """Connect, send `first` after HELLO, then a heartbeat; what the gateway sent until it closed
    (code) or acknowledged the heartbeat (None: the connection lives on)."""
    got = []
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        got.append(json.loads((await ws.receive()).data))  # HELLO
        await ws.send_str(json.dumps(first))
        await ws.send_str(json.dumps({"op": 1, "d": None}))
        async for msg in ws:
            got.append(json.loads(msg.data))
            if got[-1]["op"] == 11:
                return got, None
        return got, ws.close_code


def identify(token) -> dict:
    d = {"token": token, "intents": 513, "properties": {}}
    return {"op": 2, "d": {k: v for k, v in d.items() if v is not None}}


@pytest.mark.parametrize("token", [None, "not-the-token", "Bot not-the-token"])
async def test_gateway_identify_takes_only_the_issued_token(fake_discord, token) -> None:
    sent, code = await gateway_answer(fake_discord, identify(token))
    assert code == 4004 and [m["op"] for m in sent] == [10]  # HELLO, then no READY, no event
    assert not fake_discord.gateway.ready.is_set() and fake_discord.gateway.refused == [2]


async def test_gateway_resume_takes_only_the_issued_token(running) -> None:
    fake, _, _ = running
    [session_id] = fake.gateway.sessions
    resume = {"op": 6, "d": {"token": "not-the-token", "session_id": session_id, "seq": 0}}
    sent, code = await gateway_answer(fake, resume)
    assert code == 4004 and [m["op"] for m in sent] == [10]  # nothing replayed
    assert fake.gateway.resumes == [] and fake.gateway.refused == [6]


async def test_gateway_answers_nothing_before_identify(fake_discord) -> None:
    fake = fake_discord
    fake.add_member(name="alice")
    chunk = {"op": 8, "d": {"guild_id": fake.guild["id"], "query": "", "limit": 0}}
    sent, code = await gateway_answer(fake, chunk)
    assert code == 4003 and [m["op"] for m in sent] == [10]


async def test_no_foreign_page_gets_in_even_with_the_token(fake_discord) -> None:
    fake = fake_discord
    auth = bot_auth(fake.token)
    me = f"{fake.api_base}/users/@me"
    async with aiohttp.ClientSession() as http:
        async with http.get(me, headers={**auth, "Origin": EVIL}) as r:
            assert r.status == 403
        async with http.get(me, headers={**auth, "Host": f"rebound.example:{fake.port}"}) as r:
            assert r.status == 403  # DNS rebinding: a name of the page's, pointed at 127.0.0.1
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(fake.gateway_url, origin=EVIL)
        assert refused.value.status == 403
        for host in ("127.0.0.1", "localhost"):  # this machine's own names, and its own origin
            headers = {
                **auth,
                "Host": f"{host}:{fake.port}",
                "Origin": f"http://{host}:{fake.port}",
            }
            async with http.get(me, headers=headers) as r:
                assert r.status == 200
    assert fake.gateway.compressions == []  # the refused WebSocket never reached the gateway


MP4_START = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomavc1" + bytes(64)


@pytest.mark.parametrize(
    ("declared", "data", "served"),
    [
        ("text/html", b"<html><script>fetch('/api/state')</script></html>", None),
        ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', None),
        ("text/html", PNG, "image/png"),  # an image named and declared as a page is an image
        ("text/html", MP4_START, "video/mp4"),  # and a video is a video (sandbox: it plays)
    ],
)
async def test_uploads_are_served_as_the_image_they_are_or_as_downloads(
    fake_discord, declared, data, served
) -> None:
    fake = fake_discord
    att = fake.state.store_attachment("x.html", data, declared)
    async with aiohttp.ClientSession() as http, http.get(att["url"]) as r:
        assert r.status == 200 and await r.read() == data
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        if served is None:
            assert r.headers["Content-Type"] == "application/octet-stream"
            assert r.headers["Content-Disposition"] == 'attachment; filename="x.html"'
        else:
            assert r.headers["Content-Type"] == served
            assert "Content-Disposition" not in r.headers
