"""Channel messages, reactions, the message-content intent and upload limits through the fake."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
from PIL import Image

from localdiscord import FakeDiscord

from ._testbot import PNG, Events, get, make_bot
from .conftest import start_bot, stop_bot

pytestmark = pytest.mark.timeout(30)


async def test_reaction_event_arrives(running) -> None:
    fake, bot, events = running
    alice = fake.add_member(name="alice")
    posted = await fake.user_message(
        author=alice, content="img", attachments=[("a.png", PNG, "image/png")]
    )
    await get(events.messages)
    await fake.add_reaction(posted["id"], "🌀", user=alice)
    ev = await get(events.reactions)
    assert (ev.emoji.name, ev.emoji.id, ev.user_id) == ("🌀", None, int(alice["user"]["id"]))
    assert ev.guild_id == int(fake.guild["id"]) and ev.member is not None
    assert ev.member.id == int(alice["user"]["id"])
    # the bot's own reaction comes back as an event too (bots must ignore it)
    channel = bot.get_channel(int(fake.channel["id"]))
    await channel.get_partial_message(int(posted["id"])).add_reaction("✅")
    ev2 = await get(events.reactions)
    assert ev2.user_id == bot.user.id
    reactions = fake.message(posted["id"])["reactions"]
    assert [(r["emoji"]["name"], r["count"]) for r in reactions] == [("🌀", 1), ("✅", 1)]


async def test_channel_send_reply_with_file_and_edit(running) -> None:
    fake, bot, events = running
    alice = fake.add_member(name="alice")
    posted = await fake.user_message(author=alice, content="hi")
    await get(events.messages)
    channel = bot.get_channel(int(fake.channel["id"]))
    target = await channel.fetch_message(int(posted["id"]))
    sent = await target.reply(
        "here", file=discord.File(io.BytesIO(PNG), "dream.png"), mention_author=True
    )
    assert sent.attachments[0].url.startswith(fake.base_url)
    await sent.edit(content="done")
    stored = fake.messages_in()[-1]
    assert stored["content"] == "done" and stored["message_reference"]["message_id"] == posted["id"]
    assert stored["attachments"][0]["data"] == PNG and stored["author"]["id"] == fake.bot_user["id"]
    own = await get(events.messages)  # the bot receives its own MESSAGE_CREATE, like on Discord
    assert own.author.id == bot.user.id


async def test_reply_to_deleted_message_is_400(running) -> None:
    fake, bot, _ = running
    channel = bot.get_channel(int(fake.channel["id"]))
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(
            "x", reference=discord.MessageReference(message_id=1, channel_id=channel.id)
        )
    assert info.value.status == 400 and info.value.code == 50035


async def test_without_message_content_intent_content_is_hidden() -> None:
    events = Events()
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            bot = make_bot(events, message_content=False)
            task = await start_bot(fake, bot)
            try:
                user = fake.add_member(name="ann")
                stored = await fake.user_message(
                    author=user, content="secret", attachments=[("a.png", PNG, "image/png")]
                )
                seen = await get(events.messages)
                assert (seen.content, seen.attachments) == ("", [])
                assert stored["content"] == "secret"
                mention = await fake.user_message(
                    author=user, content=f"<@{fake.bot_user['id']}> hi"
                )
                seen = await get(events.messages)
                assert seen.id == int(mention["id"]) and seen.content.endswith("hi")
            finally:
                await stop_bot(bot, task)


async def test_over_limit_upload_is_413() -> None:
    events = Events()
    async with FakeDiscord(filesize_limit=64 * 1024) as fake:
        with fake.patch_discord():
            bot = make_bot(events)
            task = await start_bot(fake, bot)
            try:
                channel = bot.get_channel(int(fake.channel["id"]))
                with pytest.raises(discord.HTTPException) as info:
                    await channel.send(file=discord.File(io.BytesIO(b"\0" * 100_000), "big.bin"))
                assert info.value.status == 413 and info.value.code == 40005
                ok = await channel.send(file=discord.File(io.BytesIO(b"\0" * 1000), "small.bin"))
                assert ok.attachments[0].size == 1000
            finally:
                await stop_bot(bot, task)
    assert [r.status for r in fake.find_requests("POST", "/channels/*/messages")] == [413, 200]


async def test_wait_for_times_out_with_a_dump(fake_discord) -> None:
    with pytest.raises(TimeoutError, match="requests"):
        await fake_discord.wait_for(lambda: False, timeout=0.2)
    await asyncio.sleep(0)


async def test_history_is_newest_first_by_limit_and_before_and_empty_without_the_permission(
    running,
) -> None:
    fake, bot, _ = running
    alice = fake.add_member(name="alice")
    posted = [await fake.user_message(author=alice, content=f"m{i}") for i in range(5)]
    channel = bot.get_channel(int(fake.channel["id"]))
    newest = [m.content async for m in channel.history(limit=3)]
    assert newest == ["m4", "m3", "m2"]
    before = discord.Object(int(posted[2]["id"]))
    assert [m.content async for m in channel.history(limit=5, before=before)] == ["m1", "m0"]
    # as on Discord: without Read Message History the list is empty, not refused
    for role in (fake.everyone_role, fake.state.bot_role):
        role["permissions"] = str(int(role["permissions"]) & ~(1 << 16))
    assert [m async for m in channel.history(limit=3)] == []


async def test_avatars_are_served_by_the_cdn_animated_ones_as_gifs(running) -> None:
    fake, bot, _ = running
    frames = [Image.effect_noise((16, 16), 40 + i).convert("RGB") for i in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    alice = fake.add_member(name="alice")
    fake.set_avatar(alice, buf.getvalue())
    fake.set_avatar(alice, PNG, server=True)
    member = await bot.get_guild(int(fake.guild["id"])).fetch_member(int(alice["user"]["id"]))
    assert member.avatar.is_animated() and member.avatar.url.startswith(fake.cdn_base)
    assert await member.avatar.read() == buf.getvalue()
    with Image.open(io.BytesIO(await member.avatar.with_format("png").read())) as first:
        assert first.format == "PNG" and first.size == (16, 16)
    assert not member.guild_avatar.is_animated()
    with Image.open(io.BytesIO(await member.guild_avatar.read())) as server:
        assert server.format == "PNG"
    with pytest.raises(discord.NotFound):
        await discord.Asset._from_avatar(bot._connection, member.id, "nope").read()
