"""A server's dream settings: each declared once, as a field of `GuildSettings`; what its admins
stored, resolved against the declared defaults, held in memory so that no interaction waits on the
database before it is acknowledged.

`GuildDirectory` loads every stored row once at start (only servers whose admins changed
something have one), answers `get` from memory, and is the one way to change settings
(`/dreamconfig`), which keeps the cache true. One bot process owns the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import discord

from bot.errors import NotAllowedHere
from bot.replies import channel_list, not_allowed_here_text
from bot.serversettings import (
    Channels,
    ChannelSwitch,
    Number,
    Switch,
    Text,
    defaults,
    dumped,
    loaded,
    setting,
)
from bot.settings import DiscordConfig
from bot.store import GuildRow, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelRef:
    """Where something happened: the channel, and its parent when it is a thread or forum post."""

    id: int
    parent_id: int | None = None

    @classmethod
    def of(cls, channel: object, channel_id: int) -> ChannelRef:
        return cls(channel_id, getattr(channel, "parent_id", None))


@dataclass(frozen=True)
class GuildSettings:
    """A server's dream settings in force. Every field after `guild_id` is a server setting,
    declared here once (see bot/serversettings.py): its kind (how it is stored and checked, the
    /dreamconfig options that set it), its default, and its line in /dreamconfig's answer."""

    guild_id: int | None  # None: DMs and private channels (the defaults)
    allowed_channel_ids: tuple[int, ...] = setting(  # empty = every channel
        Channels(
            add="allow_channel",
            add_help="add a channel where dreams are allowed",
            remove="remove_channel",
            remove_help="remove an allowed channel",
            clear="everywhere",
            clear_help="allow every channel again",
        ),
        default=(),
        label="Dreams allowed in",
        show=lambda s, _: channel_list(s.allowed_channel_ids) or "every channel",
    )
    max_side: int | None = setting(  # None = the engine's cap only
        Number("max_size", "longest side of results on this server", low=64, high=8192),
        label="Max size",
        show=lambda s, engine: f"{s.side_cap(engine.max_side_cap)} px",
    )
    reaction_redream: bool = setting(
        Switch("reaction_redream", "re-dream images people react to"),
        config="reaction_redream",
        label="Reaction re-dream",
        show=lambda s, _: f"{'on' if s.reaction_redream else 'off'} ({s.reaction_emoji})",
    )
    reaction_emoji: str = setting(  # shown on the re-dream line
        Text("emoji", "the reaction that re-dreams"), config="reaction_emoji"
    )
    max_frames: int | None = setting(  # None = the engine's cap only
        Number("max_frames", "frames of an animation, at most, on this server", low=2, high=240),
        label="Animations",
        show=lambda s, engine: f"up to {s.frame_cap(engine.max_animation_frames)} frames",
    )
    spoiler: bool = setting(  # every result here as a spoiler
        Switch(
            "spoiler",
            "post results as spoilers (with spoiler_channel: only there)",
            unless="spoiler_channel",
        ),
        default=False,
        label="Results as spoilers",
        show=lambda s, _: (
            "everywhere" if s.spoiler else channel_list(s.spoiler_channel_ids) or "off"
        ),
    )
    spoiler_channel_ids: tuple[int, ...] = setting(  # ... or in these channels (and their threads)
        ChannelSwitch("spoiler_channel", "the channel the spoiler setting is for", "spoiler"),
        default=(),
    )

    def spoils(self, channel: ChannelRef) -> bool:
        """Are results posted as spoilers in this channel?"""
        listed = self.spoiler_channel_ids
        return self.spoiler or channel.id in listed or channel.parent_id in listed

    def allows(self, channel: ChannelRef) -> bool:
        """Every channel when none is listed; a thread or forum post when its parent is."""
        allowed = self.allowed_channel_ids
        return not allowed or channel.id in allowed or channel.parent_id in allowed

    def check_channel(self, channel: ChannelRef) -> None:
        if not self.allows(channel):
            raise NotAllowedHere(not_allowed_here_text(channel_list(self.allowed_channel_ids)))

    def side_cap(self, engine_cap: int) -> int:
        """The longest side a dream may have here."""
        return min(engine_cap, self.max_side or engine_cap)

    def frame_cap(self, engine_cap: int) -> int:
        """The most frames an animation may have here."""
        return min(engine_cap, self.max_frames or engine_cap)


def can_manage_server(user: object) -> bool:
    """Manage Server (administrators have every permission, so they pass too)."""
    perms = getattr(user, "guild_permissions", None)
    return bool(perms and (perms.manage_guild or perms.administrator))


def member_role_ids(user: discord.abc.User, guild_id: int | None) -> tuple[int, ...]:
    """The roles a quota rule can name: the member's roles and @everyone (whose id is the
    guild's, so a rule on it is the server's per-user default). Nothing outside a server."""
    if guild_id is None:
        return ()
    roles = {role.id for role in getattr(user, "roles", ())}
    return tuple(sorted(roles | {guild_id}))


def resolve(
    guild_id: int | None, values: Mapping[str, Any], config: DiscordConfig
) -> GuildSettings:
    """The settings in force: the server's stored values, the declared defaults for the rest."""
    return GuildSettings(guild_id, **{**defaults(GuildSettings, config), **values})


class GuildDirectory:
    def __init__(
        self, store: Store, defaults: DiscordConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._defaults = defaults
        self._clock = clock
        self._rows: dict[int, GuildRow] = {}  # as stored (keys this bot doesn't know kept)
        self._settings: dict[int, GuildSettings] = {}

    async def load(self) -> None:
        rows = await self._store.guild_rows()
        self._rows = {row.guild_id: row for row in rows}
        self._settings = {row.guild_id: self._resolve(row) for row in rows}

    def get(self, guild_id: int | None) -> GuildSettings:
        """No I/O: safe before an interaction is acknowledged."""
        found = self._settings.get(guild_id) if guild_id is not None else None
        return resolve(guild_id, {}, self._defaults) if found is None else found

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Save changes to a server's settings (by name; None unsets one, so its default applies
        again) and return the settings now in force. ValueError for what no setting takes."""
        row = self._rows.get(guild_id) or GuildRow(guild_id)
        stored = dict(row.values)
        for name, value in dumped(GuildSettings, changes).items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = value
        saved = await self._store.save_guild_row(GuildRow(guild_id, stored), now=self._clock())
        self._rows[guild_id] = saved
        self._settings[guild_id] = self._resolve(saved)
        return self._settings[guild_id]

    def _resolve(self, row: GuildRow) -> GuildSettings:
        values, invalid = loaded(GuildSettings, row.values)
        for name, why in invalid.items():  # e.g. edited by hand: the default beats a crash
            log.warning("server %s: stored %s ignored (%s)", row.guild_id, name, why)
        return resolve(row.guild_id, values, self._defaults)
