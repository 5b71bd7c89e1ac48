"""bot.serversettings: each server setting is declared once (a field of GuildSettings), and the
stored JSON, the defaults, /dreamconfig's options and its answer all derive from the declarations.
"""

from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from discord import AppCommandOptionType, app_commands

from bot import replies
from bot.cogs.admin.dreamconfig import DreamConfigCommand
from bot.guilds import GuildDirectory, GuildSettings, resolve
from bot.serversettings import (
    Channels,
    ChannelSwitch,
    Number,
    Setting,
    Switch,
    Text,
    changes_from_options,
    declared,
    dumped,
    loaded,
    options,
    setting,
    shown,
    slash_options,
)
from bot.settings import DiscordConfig
from bot.store import GuildRow, Store
from dreamcore.config import EngineConfig

GUILD = 10
ENGINE = EngineConfig(device="cpu", max_side_cap=2048, max_animation_frames=64)
DEFAULT = resolve(GUILD, {}, DiscordConfig())
NAMES = [name for name, _ in declared(GuildSettings)]


def channel(channel_id: int) -> Any:
    return SimpleNamespace(id=channel_id)  # what discord.py passes for a channel option


def example(name: str, spec: Setting) -> tuple[Any, dict[str, Any]]:
    """A value other than the default for a setting, and /dreamconfig options that set it.
    A new kind of setting needs a line here; a new setting of a known kind needs nothing."""
    kind = spec.kind
    if isinstance(kind, Number):
        return kind.low, {kind.option: kind.low}  # under any engine cap: it shows
    if isinstance(kind, Switch):
        value = not getattr(DEFAULT, name)
        return value, {kind.option: value}
    if isinstance(kind, Text):
        return "🔥", {kind.option: " 🔥 "}
    if isinstance(kind, Channels):
        return (7,), {kind.add: channel(7)}
    if isinstance(kind, ChannelSwitch):
        return (9,), {kind.option: channel(9), kind.switch: True}
    raise AssertionError(f"no example for {type(kind).__name__}: add one")


EXAMPLES = {name: example(name, spec) for name, spec in declared(GuildSettings)}


def test_every_field_after_the_server_id_is_a_declared_setting():
    fields = [f.name for f in dataclasses.fields(GuildSettings)]
    assert fields == ["guild_id", *NAMES]


@pytest.mark.parametrize("name", NAMES)
async def test_every_setting_round_trips_through_the_store(tmp_path, name):
    value, _ = EXAMPLES[name]
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        directory = GuildDirectory(store, DiscordConfig())
        await directory.load()
        saved = await directory.update(GUILD, **{name: value})
        assert saved == dataclasses.replace(DEFAULT, **{name: value})
        reopened = GuildDirectory(store, DiscordConfig())  # a restart reads it back
        await reopened.load()
        assert reopened.get(GUILD) == saved
        unset = await reopened.update(GUILD, **{name: None})  # None: the default again
        assert unset == DEFAULT and [r.values for r in await store.guild_rows()] == [{}]


@pytest.mark.parametrize("name", NAMES)
def test_every_setting_is_set_by_its_dreamconfig_options(name):
    value, given = EXAMPLES[name]
    assert changes_from_options(DEFAULT, given) == {name: value}
    params = {p.name for p in DreamConfigCommand.dreamconfig.parameters}
    assert set(given) <= params


@pytest.mark.parametrize("name", NAMES)
def test_every_setting_shows_in_the_dreamconfig_answer(name):
    value, _ = EXAMPLES[name]
    changed = dataclasses.replace(DEFAULT, **{name: value})
    text = replies.dreamconfig_text(shown(changed, ENGINE))
    assert text != replies.dreamconfig_text(shown(DEFAULT, ENGINE))


def test_dreamconfig_options_are_the_declared_ones_as_before():
    params = DreamConfigCommand.dreamconfig.parameters
    assert [(p.name, p.description) for p in params] == [
        (o.name, o.help) for o in options(GuildSettings)
    ]
    assert [p.name for p in params] == [
        "allow_channel",
        "remove_channel",
        "everywhere",
        "max_size",
        "reaction_redream",
        "emoji",
        "max_frames",
        "spoiler",
        "spoiler_channel",
    ]
    assert not any(p.required for p in params)
    ranges = {p.name: (p.min_value, p.max_value) for p in params if p.min_value is not None}
    assert ranges == {"max_size": (64, 8192), "max_frames": (2, 240)}
    types = {p.name: p.type for p in params}
    assert types["allow_channel"] == types["spoiler_channel"] == AppCommandOptionType.channel
    assert types["emoji"] == AppCommandOptionType.string


def test_the_dreamconfig_answer_reads_as_before():
    configured = GuildSettings(GUILD, (1, 2), 300, False, "🔥", 12, False, (3,))
    assert replies.dreamconfig_text(shown(configured, ENGINE)) == (
        "Dreams allowed in: <#1>, <#2>\nMax size: 300 px\nReaction re-dream: off (🔥)\n"
        "Animations: up to 12 frames\nResults as spoilers: <#3>"
    )
    everywhere = dataclasses.replace(DEFAULT, spoiler=True, spoiler_channel_ids=(3,))
    assert replies.dreamconfig_text(shown(everywhere, ENGINE)) == (
        "Dreams allowed in: every channel\nMax size: 2048 px\nReaction re-dream: on (🌀)\n"
        "Animations: up to 64 frames\nResults as spoilers: everywhere"
    )


def test_options_change_settings_as_dreamconfig_always_did():
    s = dataclasses.replace(DEFAULT, allowed_channel_ids=(1, 2), spoiler_channel_ids=(5,))
    assert changes_from_options(s, {}) == {}
    assert changes_from_options(s, {"allow_channel": channel(2)}) == {"allowed_channel_ids": (1, 2)}
    assert changes_from_options(s, {"remove_channel": channel(1)}) == {"allowed_channel_ids": (2,)}
    assert changes_from_options(s, {"everywhere": True, "allow_channel": channel(3)}) == {
        "allowed_channel_ids": (3,)
    }
    assert changes_from_options(s, {"everywhere": False}) == {}
    # spoiler alone is the server's; with spoiler_channel, that channel's alone
    assert changes_from_options(s, {"spoiler": True}) == {"spoiler": True}
    on = {"spoiler": True, "spoiler_channel": channel(4)}
    assert changes_from_options(s, on) == {"spoiler_channel_ids": (4, 5)}
    off = {"spoiler": False, "spoiler_channel": channel(5)}
    assert changes_from_options(s, off) == {"spoiler_channel_ids": ()}
    assert changes_from_options(s, {"spoiler_channel": channel(4)}) == {}
    # an emoji is trimmed; a blank one unsets it (the config's applies)
    assert changes_from_options(s, {"emoji": "  "}) == {"reaction_emoji": None}
    assert changes_from_options(s, {"emoji": ""}) == {}


def test_stored_values_that_are_not_valid_are_left_out_so_the_default_applies():
    stored = {"max_side": 10**6, "reaction_redream": "yes", "max_frames": 12, "later": 1}
    values, invalid = loaded(GuildSettings, stored)
    assert values == {"max_frames": 12}  # a key no setting names ("later") is not one
    assert set(invalid) == {"max_side", "reaction_redream"}


async def test_the_directory_logs_and_skips_a_stored_value_that_is_not_valid(tmp_path, caplog):
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        await store.save_guild_row(GuildRow(GUILD, {"max_side": 3, "later": "kept"}), now=1.0)
        directory = GuildDirectory(store, DiscordConfig())
        with caplog.at_level(logging.WARNING, logger="bot.guilds"):
            await directory.load()
        assert directory.get(GUILD) == DEFAULT and "max_side" in caplog.text
        await directory.update(GUILD, max_frames=8)
        [row] = await store.guild_rows()  # what this bot doesn't know survives a save
        assert row.values == {"max_side": 3, "later": "kept", "max_frames": 8}


async def test_update_refuses_what_no_setting_takes(tmp_path):
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        directory = GuildDirectory(store, DiscordConfig())
        with pytest.raises(ValueError, match="not a server setting"):
            await directory.update(GUILD, colour="red")
        with pytest.raises(ValueError, match="64 to 8192"):
            await directory.update(GUILD, max_side=5)
        with pytest.raises(ValueError, match="channel ids"):
            await directory.update(GUILD, allowed_channel_ids=("general",))
        assert await store.guild_rows() == []
    assert dumped(GuildSettings, {"spoiler": 1, "allowed_channel_ids": (1,)}) == {
        "spoiler": True,
        "allowed_channel_ids": [1],
    }


@dataclasses.dataclass(frozen=True)
class WithGreeting(GuildSettings):
    """A server setting added the way every one is: one entry."""

    greeting: str = setting(
        Text("greeting", "what the bot says first"),
        default="hello",
        label="Greeting",
        show=lambda s, _: s.greeting,
    )


class GreetingCommand:
    @app_commands.command(name="greetconfig", description="test")
    @slash_options(WithGreeting)
    async def greetconfig(self, interaction: Any, **given: Any) -> None:
        pass


def test_adding_a_setting_is_adding_one_entry():
    assert declared(WithGreeting)[-1][0] == "greeting"
    param = GreetingCommand.greetconfig.parameters[-1]  # a slash option ...
    assert (param.name, param.description, param.required) == (
        "greeting",
        "what the bot says first",
        False,
    )
    base = WithGreeting(GUILD)
    changes = changes_from_options(base, {"greeting": " hi "})  # ... that sets it
    assert changes == {"greeting": "hi"}
    stored = dumped(WithGreeting, changes)  # stored as JSON and read back
    assert loaded(WithGreeting, stored) == ({"greeting": "hi"}, {})
    greeted = dataclasses.replace(base, greeting="hi")
    assert shown(greeted, ENGINE)[-1] == ("Greeting", "hi")  # in /dreamconfig's answer
    assert shown(base, ENGINE)[:-1] == shown(DEFAULT, ENGINE)  # the others as they were
