"""The fake against real discord.py: connect, sync, shutdown, intents, compression, resume."""

from __future__ import annotations

import asyncio
import json
import zlib

import discord
import pytest

from localdiscord import FakeDiscord
from localdiscord.compression import ZlibStreamEncoder, ZstdStreamEncoder, zstd_available

from ._testbot import Events, get, make_bot
from .conftest import start_bot, stop_bot

pytestmark = pytest.mark.timeout(30)


async def test_connects_and_syncs_commands(running) -> None:
    fake, bot, _ = running
    assert str(bot.user.id) == fake.bot_user["id"]
    assert str(bot.application_id) == fake.application_id
    guild = bot.get_guild(int(fake.guild["id"]))
    assert guild is not None and guild.get_channel(int(fake.channel["id"])) is not None
    assert guild.default_role.id == guild.id and guild.me is not None
    assert guild.filesize_limit == 10 * 1024 * 1024

    puts = fake.find_requests("PUT", f"/applications/{fake.application_id}/commands")
    assert len(puts) == 1 and puts[0].status == 200
    sent = {(c["name"], c.get("type", 1)) for c in puts[0].json}
    assert {("ping", 1), ("inspect", 1), ("quota", 1), ("Dream this image", 3)} <= sent
    assert all(c["id"] for c in fake.commands[None])
    ident = fake.identifies[-1]
    assert ident["token"] == "***" and ident["intents"] & (1 << 15)


async def test_clean_shutdown_leaves_no_tasks() -> None:
    events = Events()
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            bot = make_bot(events)
            task = await start_bot(fake, bot)
            await stop_bot(bot, task)
            assert bot.is_closed()
            await fake.wait_for(lambda: not fake.gateway.active, timeout=5)
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
    assert not fake.errors and not fake.unhandled


async def test_message_content_disallowed_closes_4014() -> None:
    async with FakeDiscord(allow_message_content=False) as fake:
        with fake.patch_discord():
            bot = make_bot(Events(), message_content=True)
            with pytest.raises(discord.PrivilegedIntentsRequired):
                await asyncio.wait_for(bot.start(fake.token), 15)
            await bot.close()
    assert fake.gateway.close_codes == [4014]


async def test_members_intent_chunk_request_is_answered(fake_discord) -> None:
    fake = fake_discord
    alice = fake.add_member(name="alice")
    bot = make_bot(Events(), members=True)
    task = await start_bot(fake, bot)
    try:
        guild = bot.get_guild(int(fake.guild["id"]))
        assert guild.chunked
        members = await asyncio.wait_for(guild.chunk(), 5)
        assert int(alice["user"]["id"]) in {m.id for m in members}
        bob = fake.add_member(name="bob")  # GUILD_MEMBER_ADD reaches the cache
        await asyncio.sleep(0.2)
        assert guild.get_member(int(bob["user"]["id"])) is not None
    finally:
        await stop_bot(bot, task)


async def test_resume_after_reconnect_request(running) -> None:
    fake, _bot, events = running
    await fake.request_reconnect()
    await fake.wait_for(
        lambda: (
            any(s.session_id and s.ws is not None for s in fake.gateway.active)
            and len(fake.identifies) == 1
            and fake.gateway.resumes
        ),
        timeout=10,
    )
    user = fake.add_member(name="carol")
    msg = await fake.user_message(author=user, content="after resume")
    got = await get(events.messages)
    assert got.id == int(msg["id"]) and got.content == "after resume"


def test_zlib_stream_encoder_roundtrip() -> None:
    enc, dec = ZlibStreamEncoder(), zlib.decompressobj()
    for i in range(3):
        frame = enc.encode(json.dumps({"op": 0, "s": i}))
        assert frame.endswith(b"\x00\x00\xff\xff")
        assert json.loads(dec.decompress(frame)) == {"op": 0, "s": i}


def test_zstd_stream_encoder_roundtrip() -> None:
    zstandard = pytest.importorskip("zstandard")
    enc = ZstdStreamEncoder()
    dec = zstandard.ZstdDecompressor().decompressobj()
    for i in range(3):
        assert json.loads(dec.decompress(enc.encode(json.dumps({"op": 0, "s": i})))) == {
            "op": 0,
            "s": i,
        }


class _ForcedZlib:
    """discord.py's zlib-stream decompression context, for when zstandard is installed."""

    COMPRESSION_TYPE = "zlib-stream"

    def __init__(self) -> None:
        self.ctx, self.buf = zlib.decompressobj(), bytearray()

    def decompress(self, data: bytes) -> str | None:
        self.buf.extend(data)
        if len(data) < 4 or data[-4:] != b"\x00\x00\xff\xff":
            return None
        out = self.ctx.decompress(self.buf)
        self.buf = bytearray()
        return out.decode()


@pytest.mark.parametrize("mode", ["zlib-stream", "zstd-stream", "default"])
async def test_gateway_compression_end_to_end(fake_discord, monkeypatch, mode: str) -> None:
    fake = fake_discord
    if mode == "zlib-stream":
        monkeypatch.setattr(discord.utils, "_ActiveDecompressionContext", _ForcedZlib)
    elif mode == "zstd-stream":
        if not zstd_available():
            pytest.skip("zstandard not importable: discord.py cannot use zstd-stream here")
        monkeypatch.setattr(
            discord.utils, "_ActiveDecompressionContext", discord.utils._ZstdDecompressionContext
        )
    expected = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    bot = make_bot(Events())
    task = await start_bot(fake, bot)
    try:
        assert fake.gateway.compressions == [expected]
        rec = await fake.slash_command("ping", user=fake.add_member(name="dora"))
        assert (await rec.wait_for_callback(5)).type == 5
        await rec.wait_until(lambda r: r.original and r.original["content"] == "pong", 5)
    finally:
        await stop_bot(bot, task)
