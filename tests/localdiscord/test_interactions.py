"""Interactions through the fake: slash + defer + followup file, attachment options, buttons,
context menus, autocomplete, subcommand groups, expired tokens."""

from __future__ import annotations

import asyncio
import hashlib

import discord
import pytest

from ._testbot import PNG, get

pytestmark = pytest.mark.timeout(30)


async def test_slash_defer_then_followup_replaces_thinking_message(running) -> None:
    fake, _, _ = running
    alice = fake.add_member(name="alice")
    rec = await fake.slash_command("ping", user=alice)
    cb = await rec.wait_for_callback(5)
    assert cb.type == 5
    assert rec.ack_latency is not None and rec.ack_latency < 3
    msg = await rec.wait_until(
        lambda r: r.original and r.original["content"] == "pong" and r.original, 5
    )
    assert msg["flags"] & (1 << 7) == 0  # no longer "thinking"
    assert rec.followups == []  # the followup replaced the original, no second message
    (att,) = msg["attachments"]
    assert att["filename"] == "x.png" and att["data"] == PNG and att["size"] == len(PNG)
    assert (att["width"], att["height"]) == (3, 2) and att["content_type"] == "image/png"
    assert att["url"].startswith(fake.base_url + "/attachments/")
    (post,) = fake.find_requests("POST", f"/webhooks/{fake.application_id}/*")
    assert post.files[0].filename == "x.png" and post.files[0].data == PNG
    assert post.files[0].content_type == "application/octet-stream"
    assert [m["id"] for m in fake.messages_in()] == [msg["id"]]


async def test_attachment_option_is_served_by_the_fake(running) -> None:
    fake, _, _ = running
    rec = await fake.slash_command(
        "inspect",
        user=fake.add_member(name="bob"),
        attachments={"image": ("cat.png", PNG, "image/png")},
    )
    cb = await rec.wait_for_callback(5)
    assert cb.type == 4
    size, digest, dims, ctype, same, limit = cb.data["content"].split()
    assert (int(size), digest, dims, ctype, same) == (
        len(PNG),
        hashlib.sha256(PNG).hexdigest(),
        "3x2",
        "image/png",
        "True",
    )
    assert int(limit) == 10 * 1024 * 1024
    assert len(fake.downloads) == 2
    assert rec.original["content"] == cb.data["content"]


async def test_button_click_reaches_the_view(running) -> None:
    fake, _, events = running
    user = fake.add_member(name="erin")
    rec = await fake.slash_command("buttons", user=user)
    await rec.wait_for_callback(5)
    original = rec.original
    assert original["components"][0]["components"][0]["custom_id"] == "dream:again"
    click = await fake.click_button(original, "dream:again", user=user)
    assert await get(events.buttons) == "dream:again"
    assert (await click.wait_for_callback(5)).type == 6
    assert click.original_id == original["id"]


async def test_context_menu_gets_the_target_message(running) -> None:
    fake, _, events = running
    user = fake.add_member(name="fay")
    posted = await fake.user_message(
        author=user, content="look", attachments=[("a.png", PNG, "image/png")]
    )
    rec = await fake.context_menu("Dream this image", posted, user=user)
    target = await get(events.context)
    assert target.id == int(posted["id"]) and target.content == "look"
    assert [a.filename for a in target.attachments] == ["a.png"]
    assert await target.attachments[0].read() == PNG
    assert (await rec.wait_for_callback(5)).data["content"] == f"{posted['id']} 1"


async def test_autocomplete_returns_choices(running) -> None:
    fake, _, _ = running
    choices = await fake.autocomplete("dream", {"layer": "mixed4"}, "layer", user=fake.add_member())
    assert [c["value"] for c in choices] == ["mixed4c", "mixed4d"]


async def test_subcommand_with_member_option(running) -> None:
    fake, _, events = running
    admin = fake.add_member(name="root", admin=True)
    target = fake.add_member(name="gus")
    rec = await fake.slash_command(
        "quota", {"daily": 5, "who": target}, subcommand="set", user=admin
    )
    assert await get(events.quota) == ("gus", 5)
    cb = await rec.wait_for_callback(5)
    assert cb.data["flags"] & 64  # ephemeral
    assert fake.messages_in() == [] and rec.original["content"] == "gus=5"
    rec2 = await fake.slash_command("quota set", {"daily": 7, "who": target}, user=admin)
    assert await get(events.quota) == ("gus", 7)
    await rec2.wait_for_callback(5)


async def test_expired_token_makes_followup_fail_with_401(running) -> None:
    fake, _, events = running
    rec = await fake.slash_command("late", user=fake.add_member(name="hal"))
    await rec.wait_for_callback(5)
    fake.expire_token(rec.token)
    events.proceed.set()
    err = await get(events.errors)
    assert isinstance(err, discord.HTTPException) and err.status == 401 and err.code == 50027
    assert rec.original["flags"] & (1 << 7)  # still "thinking": nothing replaced it


async def test_second_callback_is_rejected(running) -> None:
    fake, bot, _ = running
    rec = await fake.slash_command("ping", user=fake.add_member(name="ida"))
    await rec.wait_for_callback(5)
    again = fake.find_requests("POST", f"/interactions/{rec.id}/*/callback")
    assert [r.status for r in again] == [200]
    adapter = discord.webhook.async_.async_context.get()
    with pytest.raises(discord.HTTPException) as info:
        await adapter.create_interaction_response(
            int(rec.id),
            rec.token,
            session=bot.http._HTTPClient__session,
            params=discord.webhook.async_.interaction_response_params(5),
        )
    assert info.value.status == 400 and info.value.code == 40060
    await asyncio.sleep(0)
