"""bot.guilds: resolved settings, threads under allowed channels, quota role ids, the cache."""

from types import SimpleNamespace

import pytest

from bot.errors import NotAllowedHere
from bot.guilds import ChannelRef, GuildDirectory, GuildSettings, member_role_ids
from bot.settings import DiscordConfig
from bot.store import Store
from tests.bot.test_store import a_schema_3_database

GUILD = 10


def settings(*allowed: int) -> GuildSettings:
    return GuildSettings(GUILD, allowed, None, True, "🌀")


def test_every_channel_when_none_is_listed():
    assert settings().allows(ChannelRef(5))


def test_a_thread_or_forum_post_is_allowed_when_its_parent_is():
    # Issue 9 #6: #dreams allowed -> its threads too (and posts of an allowed forum).
    s = settings(100)
    assert s.allows(ChannelRef(100))
    assert s.allows(ChannelRef(555, parent_id=100))
    assert not s.allows(ChannelRef(556, parent_id=200))
    with pytest.raises(NotAllowedHere, match="<#100>"):
        s.check_channel(ChannelRef(200))


def test_channel_ref_reads_the_parent_of_a_thread():
    thread = SimpleNamespace(parent_id=100)
    assert ChannelRef.of(thread, 555) == ChannelRef(555, 100)
    assert ChannelRef.of(None, 7) == ChannelRef(7, None)


def test_role_ids_include_everyone_for_both_dreaming_and_quota_me():
    # Issue 9 #1: one function; @everyone (id = guild id) is the server's per-user default.
    member = SimpleNamespace(roles=[SimpleNamespace(id=GUILD), SimpleNamespace(id=42)])
    assert member_role_ids(member, GUILD) == (10, 42)
    assert member_role_ids(SimpleNamespace(), GUILD) == (10,)  # a user object without roles
    assert member_role_ids(member, None) == ()  # outside a server no rule applies


async def test_directory_answers_from_memory_and_updates_through_the_store(tmp_path):
    async with await Store.open(tmp_path / "g.sqlite3") as store:
        directory = GuildDirectory(store, DiscordConfig(), clock=lambda: 5.0)
        await directory.load()
        assert directory.get(GUILD).allowed_channel_ids == ()
        saved = await directory.update(GUILD, allowed_channel_ids=(3,), max_side=300)
        assert saved.allowed_channel_ids == (3,) and saved.side_cap(2048) == 300
        assert directory.get(GUILD) == saved  # no reload needed
        again = GuildDirectory(store, DiscordConfig())  # a restart reads what was saved
        await again.load()
        assert again.get(GUILD) == saved
        assert directory.get(None).guild_id is None  # DMs: the defaults


def test_spoilers_for_a_server_or_some_channels_and_their_threads():
    s = GuildSettings(GUILD, (), None, True, "🌀", spoiler_channel_ids=(100,))
    assert s.spoils(ChannelRef(100)) and s.spoils(ChannelRef(5, parent_id=100))
    assert not s.spoils(ChannelRef(200))
    everywhere = GuildSettings(GUILD, (), None, True, "🌀", spoiler=True)
    assert everywhere.spoils(ChannelRef(200))


async def test_a_database_from_before_declared_settings_keeps_them(tmp_path):
    # Issue 21: settings moved from a column each to one JSON object per server.
    path = tmp_path / "old.sqlite3"
    a_schema_3_database(path)
    async with await Store.open(path) as store:
        directory = GuildDirectory(store, DiscordConfig())
        await directory.load()
        assert directory.get(5) == GuildSettings(5, (7, 8), 512, False, "🔥", 12, True, (9,))
        assert directory.get(6) == GuildSettings(6, (), None, True, "🌀", None, False, ())
        assert directory.get(7) == GuildSettings(7, (), None, True, "🌀")  # the defaults
