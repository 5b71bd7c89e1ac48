"""Quota end to end: @everyone rules, refusals before anything public or downloaded."""

from tests.bot.conftest import (
    E2E,
    RunningBot,
    button,
    dream,
    finished_result,
    make_settings,
    png_bytes,
    wait_ledger,
)

pytestmark = E2E


async def test_a_rule_on_everyone_is_the_servers_per_user_default(fake, bot):
    # Issue 9 #1: /dream and /quota me must see the same roles (@everyone included).
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    rec = await fake.slash_command(
        "quota set", {"scope": "role", "role": fake.everyone_role, "daily": 1}, user=admin
    )
    assert "saved" in (await rec.wait_for_callback(5)).data["content"]
    await finished_result(await dream(fake, alice))
    await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    again = await dream(fake, alice)
    cb = await again.wait_for_callback(5)
    assert cb.type == 4 and cb.data["flags"] & 64  # refused, ephemerally, before any defer
    assert "You've used your 1 dream for today" in cb.data["content"]
    rec = await fake.slash_command("quota me", {}, user=alice)
    text = (await rec.wait_for_callback(5)).data["content"]
    assert "**0** of 1" in text and "role rule" in text, text
    rows = await bot.services.store.jobs()
    assert [r.status for r in rows] == ["done"]


async def test_over_quota_buttons_are_refused_privately_and_download_nothing(fake, bot):
    # Issue 9 #4: the quota is checked before any public message, download or decode.
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    rec = await fake.slash_command(
        "quota set", {"scope": "user", "user": alice, "daily": 1}, user=admin
    )
    await rec.wait_for_callback(5)
    first = await finished_result(await dream(fake, alice))
    await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    downloads = list(fake.state.downloads)
    messages = len(fake.messages_in())
    for action in ("reroll", "deeper", "reroll"):
        rec = await fake.click_button(first, button(first, action), user=alice)
        cb = await rec.wait_for_callback(5)
        assert cb.type == 4 and cb.data["flags"] & 64 and "for today" in cb.data["content"]
    assert fake.state.downloads == downloads  # nothing fetched, nothing decoded
    assert len(fake.messages_in()) == messages  # nothing public
    assert len(await bot.services.store.jobs()) == 1


async def test_a_cooldown_lets_every_image_of_one_message_be_dreamed(fake, pool, tmp_path):
    # issue 19 #6: with a cooldown, a 🌀 on three images dreamed the first and refused the rest
    settings = make_settings(fake, tmp_path / "c.sqlite3", quota={"cooldown_s": 30})
    runner = RunningBot(fake, settings, pool)
    bot = await runner.start()
    try:
        alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
        images = [(f"p{i}.png", png_bytes(64, seed=i), "image/png") for i in range(3)]
        posted = await fake.user_message(author=alice, attachments=images)
        await fake.add_reaction(posted["id"], "🌀", user=bob)

        def reply():
            return next(
                (
                    m
                    for m in fake.messages_in()
                    if m.get("message_reference", {}).get("message_id") == posted["id"]
                    and any(a["filename"].startswith("dream-") for a in m["attachments"])
                ),
                None,
            )

        msg = await fake.wait_for(reply, 60)
        dreams = [a["filename"] for a in msg["attachments"] if a["filename"].startswith("dream-")]
        assert dreams == ["dream-1.png", "dream-2.png", "dream-3.png"], str(msg["embeds"])[-300:]
        rows = await wait_ledger(
            bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
        )
        assert sum(r.cost for r in rows) == 3
        again = await dream(fake, bob)  # a new request still waits out the cooldown
        cb = await again.wait_for_callback(5)
        assert cb.data["flags"] & 64 and "Slow down a little" in cb.data["content"]
    finally:
        await runner.stop()
