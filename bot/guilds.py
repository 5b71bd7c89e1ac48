"""A server's dream settings: what its admins stored, resolved against the config defaults, held
in memory so that no interaction waits on the database before it is acknowledged.

`GuildDirectory` loads every stored row once at start (only servers whose admins changed
something have one), answers `get` from memory, and is the one way to change settings
(`/dreamconfig`), which keeps the cache true. One bot process owns the database.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import discord

from bot.errors import NotAllowedHere
from bot.replies import channel_list, not_allowed_here_text
from bot.settings import DiscordConfig
from bot.store import GuildRow, Store


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
    guild_id: int | None  # None: DMs and private channels (the defaults)
    allowed_channel_ids: tuple[int, ...]  # empty = every channel
    max_side: int | None  # None = the engine's cap only
    reaction_redream: bool
    reaction_emoji: str
    max_frames: int | None = None  # None = the engine's cap only
    spoiler: bool = False  # every result here as a spoiler
    spoiler_channel_ids: tuple[int, ...] = ()  # ... or in these channels (and their threads)

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


def resolve(row: GuildRow | None, defaults: DiscordConfig) -> GuildSettings:
    if row is None:
        return GuildSettings(None, (), None, defaults.reaction_redream, defaults.reaction_emoji)
    return GuildSettings(
        row.guild_id,
        row.allowed_channel_ids,
        row.max_side,
        defaults.reaction_redream if row.reaction_redream is None else row.reaction_redream,
        row.reaction_emoji or defaults.reaction_emoji,
        row.max_frames,
        bool(row.spoiler),
        row.spoiler_channel_ids,
    )


class GuildDirectory:
    def __init__(
        self, store: Store, defaults: DiscordConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._defaults = defaults
        self._clock = clock
        self._rows: dict[int, GuildRow] = {}

    async def load(self) -> None:
        self._rows = {row.guild_id: row for row in await self._store.guild_rows()}

    def get(self, guild_id: int | None) -> GuildSettings:
        """No I/O: safe before an interaction is acknowledged."""
        if guild_id is None:
            return resolve(None, self._defaults)
        return resolve(self._rows.get(guild_id, GuildRow(guild_id)), self._defaults)

    async def update(self, guild_id: int, **changes: object) -> GuildSettings:
        """Save changes to a server's settings (fields of GuildRow) and return the result."""
        row = dataclasses.replace(self._rows.get(guild_id, GuildRow(guild_id)), **changes)
        self._rows[guild_id] = await self._store.save_guild_row(row, now=self._clock())
        return self.get(guild_id)
