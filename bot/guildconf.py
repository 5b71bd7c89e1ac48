"""A guild's effective settings: what its admins stored, else the config defaults."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import DiscordConfig
from bot.store import GuildSettings


@dataclass(frozen=True)
class GuildConfig:
    guild_id: int | None
    allowed_channel_ids: tuple[int, ...]  # empty = every channel
    max_side: int | None  # None = the engine's cap only
    reaction_redream: bool
    reaction_emoji: str

    def allows(self, channel_id: int | None) -> bool:
        return not self.allowed_channel_ids or channel_id in self.allowed_channel_ids


def can_manage_server(user: object) -> bool:
    """Manage Server (administrators have every permission, so they pass too)."""
    perms = getattr(user, "guild_permissions", None)
    return bool(perms and (perms.manage_guild or perms.administrator))


def resolve(stored: GuildSettings | None, discord_cfg: DiscordConfig) -> GuildConfig:
    if stored is None:  # DMs and unknown guilds: the defaults
        return GuildConfig(None, (), None, discord_cfg.reaction_redream, discord_cfg.reaction_emoji)
    return GuildConfig(
        stored.guild_id,
        stored.allowed_channel_ids,
        stored.max_side,
        discord_cfg.reaction_redream
        if stored.reaction_redream is None
        else stored.reaction_redream,
        stored.reaction_emoji or discord_cfg.reaction_emoji,
    )
