"""Quota end to end: @everyone rules, refusals before anything public or downloaded."""

from tests.bot.conftest import E2E, button, dream, finished_result, wait_ledger

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
