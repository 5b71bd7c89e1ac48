"""Quota commands (/quota me for everyone; set/show/reset for admins) and /dreamconfig.

Discord applies `default_permissions` per top-level command only, so `/quota` stays visible to all
(for `me`) and its admin subcommands rely on the runtime check; `/dreamconfig` has both.
The runtime check matters anyway: server owners can override default permissions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NotPermitted, user_message
from bot.guildconf import can_manage_server, resolve
from dreamcore.errors import DreamError

if TYPE_CHECKING:
    from bot.client import DreamBot

log = logging.getLogger(__name__)
ADMIN_ONLY = "Only members with **Manage Server** can change dream settings."
ScopeChoice = Literal["server", "role", "user"]


def is_admin(interaction: discord.Interaction) -> bool:
    return can_manage_server(interaction.user)  # False -> CheckFailure -> cog_app_command_error


def _limit(value: int | None) -> str:
    return "unlimited" if not value else str(value)


def _rule_line(rule) -> str:
    who = {"server": "server", "role": f"<@&{rule.target_id}>", "user": f"<@{rule.target_id}>"}[
        rule.scope
    ]
    parts = []
    if rule.daily is not None:
        parts.append(f"daily {_limit(rule.daily)}")
    if rule.concurrent is not None:
        parts.append(f"concurrent {_limit(rule.concurrent)}")
    return f"• {who}: " + (", ".join(parts) or "inherits")


class AdminCog(commands.Cog, name="Admin"):
    quota = app_commands.Group(name="quota", description="Dream quotas", guild_only=True)

    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, app_commands.CheckFailure):
            text = user_message(NotPermitted(ADMIN_ONLY))
        else:
            if not isinstance(cause, DreamError):
                log.error(
                    "admin command %s failed",
                    getattr(interaction.command, "qualified_name", "?"),
                    exc_info=cause,
                )
            text = user_message(cause)
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    # --- /quota me --------------------------------------------------------------------------------

    @quota.command(name="me", description="How many dreams you have left today")
    async def quota_me(self, interaction: discord.Interaction) -> None:
        roles = [r.id for r in getattr(interaction.user, "roles", ())]
        st = await self.bot.quota.status(
            user_id=interaction.user.id, guild_id=interaction.guild_id, role_ids=roles
        )
        if st.daily_limit is None:
            line = f"You have dreamed {st.used_today} times today; no daily limit here."
        else:
            line = f"You have **{st.remaining}** of {st.daily_limit} dreams left today."
        resets = discord.utils.format_dt(st.resets_at, "R")
        text = (
            f"{line}\nRunning or queued: {st.in_flight}"
            + (f" (at most {st.concurrent_limit} at once)" if st.concurrent_limit else "")
            + f"\nThe daily count resets {resets}. Limits from: {st.limit_source}."
        )
        await interaction.response.send_message(text, ephemeral=True)

    # --- admin subcommands -----------------------------------------------------------------------

    @quota.command(name="set", description="Set a daily or concurrent dream limit (0 = unlimited)")
    @app_commands.describe(
        scope="whom the rule applies to",
        role="the role (scope role)",
        user="the member (scope user)",
        daily="dreams per day (0 = unlimited)",
        concurrent="dreams at once (0 = unlimited)",
    )
    @app_commands.check(is_admin)
    async def quota_set(
        self,
        interaction: discord.Interaction,
        scope: ScopeChoice,
        daily: app_commands.Range[int, 0, 100000] | None = None,
        concurrent: app_commands.Range[int, 0, 1000] | None = None,
        role: discord.Role | None = None,
        user: discord.Member | None = None,
    ) -> None:
        target = self._target(interaction, scope, role, user)
        if daily is None and concurrent is None:
            await interaction.response.send_message(
                "Give `daily`, `concurrent` or both.", ephemeral=True
            )
            return
        rule = await self.bot.quota.set_rule(
            guild_id=interaction.guild_id,
            scope=scope,
            target_id=target,
            daily=daily,
            concurrent=concurrent,
        )
        await interaction.response.send_message(
            f"Quota rule saved:\n{_rule_line(rule)}", ephemeral=True
        )

    @quota.command(name="show", description="Show this server's quota rules")
    @app_commands.check(is_admin)
    async def quota_show(self, interaction: discord.Interaction) -> None:
        rules = await self.bot.quota.get_rules(interaction.guild_id)
        d = self.bot.settings.quota
        defaults = (
            f"Defaults: per user daily {_limit(d.user_daily)}, concurrent {_limit(d.user_concurrent)}; "
            f"server daily {_limit(d.guild_daily)}, concurrent {_limit(d.guild_concurrent)}."
        )
        lines = [_rule_line(r) for r in rules] or ["No rules set."]
        await interaction.response.send_message(
            "\n".join([*lines, defaults])[:1990], ephemeral=True
        )

    @quota.command(name="reset", description="Remove a quota rule (back to the defaults)")
    @app_commands.check(is_admin)
    async def quota_reset(
        self,
        interaction: discord.Interaction,
        scope: ScopeChoice,
        role: discord.Role | None = None,
        user: discord.Member | None = None,
    ) -> None:
        target = self._target(interaction, scope, role, user)
        removed = await self.bot.quota.reset_rule(
            guild_id=interaction.guild_id, scope=scope, target_id=target
        )
        await interaction.response.send_message(
            "Rule removed." if removed else "There was no such rule.", ephemeral=True
        )

    @staticmethod
    def _target(interaction: discord.Interaction, scope: str, role, user) -> int:
        if scope == "server":
            return interaction.guild_id  # type: ignore[return-value]
        picked = role if scope == "role" else user
        if picked is None:
            raise NotPermitted(f"Scope `{scope}` needs the `{scope}` option.")
        return picked.id

    # --- /dreamconfig ----------------------------------------------------------------------------

    @app_commands.command(name="dreamconfig", description="Where and how this server dreams")
    @app_commands.describe(
        allow_channel="add a channel where dreams are allowed",
        remove_channel="remove an allowed channel",
        everywhere="allow every channel again",
        max_size="longest side of results on this server",
        reaction_redream="re-dream images people react to",
        emoji="the reaction that re-dreams",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.check(is_admin)
    async def dreamconfig(
        self,
        interaction: discord.Interaction,
        allow_channel: app_commands.AppCommandChannel | None = None,
        remove_channel: app_commands.AppCommandChannel | None = None,
        everywhere: bool | None = None,
        max_size: app_commands.Range[int, 64, 8192] | None = None,
        reaction_redream: bool | None = None,
        emoji: str | None = None,
    ) -> None:
        store = self.bot.store
        gs = await store.get_guild_settings(interaction.guild_id)
        channels = list(gs.allowed_channel_ids)
        if everywhere:
            channels = []
        if allow_channel and allow_channel.id not in channels:
            channels.append(allow_channel.id)
        if remove_channel and remove_channel.id in channels:
            channels.remove(remove_channel.id)
        changes = dict(allowed_channel_ids=tuple(channels))
        if max_size is not None:
            changes["max_side"] = max_size
        if reaction_redream is not None:
            changes["reaction_redream"] = reaction_redream
        if emoji:
            changes["reaction_emoji"] = emoji.strip()
        gs = await store.save_guild_settings(dataclasses.replace(gs, **changes), now=time.time())
        cfg = resolve(gs, self.bot.settings.discord)
        where = ", ".join(f"<#{c}>" for c in cfg.allowed_channel_ids) or "every channel"
        text = (
            f"Dreams allowed in: {where}\nMax size: {cfg.max_side or self.bot.settings.engine.max_side_cap} px\n"
            f"Reaction re-dream: {'on' if cfg.reaction_redream else 'off'} ({cfg.reaction_emoji})"
        )
        await interaction.response.send_message(text, ephemeral=True)
