"""Admin commands end to end: runtime permission checks, /quota set taking effect, /dreamconfig."""

from tests.bot.conftest import E2E, dream, finished_result

pytestmark = E2E


async def test_non_admin_cannot_set_quota(fake, bot):
    alice = fake.add_member(name="alice")
    rec = await fake.slash_command("quota set", {"scope": "server", "daily": 0}, user=alice)
    cb = await rec.wait_for_callback(5)
    assert cb.type == 4 and cb.data["flags"] & 64 and "Manage Server" in cb.data["content"]
    assert await bot.services.store.get_rules(int(fake.guild["id"])) == []


async def test_admin_sets_a_user_quota_and_it_applies(fake, bot):
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    rec = await fake.slash_command(
        "quota set", {"scope": "user", "user": alice, "daily": 1}, user=admin
    )
    cb = await rec.wait_for_callback(5)
    assert "saved" in cb.data["content"], cb.data
    await finished_result(await dream(fake, alice))
    rec = await fake.slash_command("quota me", {}, user=alice)
    cb = await rec.wait_for_callback(5)
    assert "**0** of 1" in cb.data["content"] or "0 of 1" in cb.data["content"], cb.data["content"]


async def test_dreamconfig_restricts_channels(fake, bot):
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    other = fake.add_channel("dreams")
    rec = await fake.slash_command("dreamconfig", {"allow_channel": other}, user=admin)
    cb = await rec.wait_for_callback(5)
    assert f"<#{other['id']}>" in cb.data["content"], cb.data["content"]
    rec = await fake.slash_command("dreamconfig", {}, user=alice)
    cb = await rec.wait_for_callback(5)
    assert cb.data["flags"] & 64 and "Manage Server" in cb.data["content"]
    rec = await dream(fake, alice)  # in #general: refused
    cb = await rec.wait_for_callback(5)
    assert cb.type == 4 and f"<#{other['id']}>" in cb.data["content"]
    assert await bot.services.store.jobs() == []
