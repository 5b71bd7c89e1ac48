"""/quota me for everyone; /quota set|show|reset for members with Manage Server.

Discord applies `default_permissions` per top-level command only, so `/quota` stays visible to
all (for `me`) and the admin subcommands rely on the runtime check.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import replies
from bot.cogs.admin.checks import answer_error, is_admin
from bot.errors import NotPermitted
from bot.guilds import member_role_ids
from bot.services import Services

ScopeChoice = Literal["server", "role", "user"]


class QuotaCommands(commands.Cog, name="Quota"):
    quota = app_commands.Group(
        name="quota",
        description="Dream quotas",
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=False, private_channel=False
        ),
        allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
    )

    def __init__(self, services: Services) -> None:
        self.services = services
        self.service = services.quota

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_error(interaction, error)

    @quota.command(name="me", description="How many dreams you have left today")
    async def quota_me(self, interaction: discord.Interaction) -> None:
        roles = member_role_ids(interaction.user, interaction.guild_id)
        st = await self.service.status(
            user_id=interaction.user.id, guild_id=interaction.guild_id, role_ids=roles
        )
        text = replies.quota_me_text(
            remaining=st.remaining,
            daily_limit=st.daily_limit,
            used_today=st.used_today,
            in_flight=st.in_flight,
            concurrent_limit=st.concurrent_limit,
            resets_at=st.resets_at,
            limit_source=st.limit_source,
            frames_per_dream=self.services.settings.quota.frames_per_dream,
        )
        await interaction.response.send_message(text, ephemeral=True)

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
        target = _target(interaction, scope, role, user)
        if daily is None and concurrent is None:
            await interaction.response.send_message(replies.GIVE_A_LIMIT, ephemeral=True)
            return
        rule = await self.service.set_rule(
            guild_id=interaction.guild_id or 0,
            scope=scope,
            target_id=target,
            daily=daily,
            concurrent=concurrent,
        )
        line = replies.rule_line(rule.scope, rule.target_id, rule.daily, rule.concurrent)
        await interaction.response.send_message(replies.rule_saved_text(line), ephemeral=True)

    @quota.command(name="show", description="Show this server's quota rules")
    @app_commands.check(is_admin)
    async def quota_show(self, interaction: discord.Interaction) -> None:
        rules = await self.service.get_rules(interaction.guild_id or 0)
        d = self.services.settings.quota
        defaults = replies.quota_defaults_text(
            d.user_daily, d.user_concurrent, d.guild_daily, d.guild_concurrent
        )
        lines = [replies.rule_line(r.scope, r.target_id, r.daily, r.concurrent) for r in rules]
        await interaction.response.send_message(
            replies.quota_show_text(lines, defaults), ephemeral=True
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
        target = _target(interaction, scope, role, user)
        removed = await self.service.reset_rule(
            guild_id=interaction.guild_id or 0, scope=scope, target_id=target
        )
        text = replies.RULE_REMOVED if removed else replies.NO_SUCH_RULE
        await interaction.response.send_message(text, ephemeral=True)


def _target(interaction: discord.Interaction, scope: str, role, user) -> int:
    if scope == "server":
        return interaction.guild_id or 0
    picked = role if scope == "role" else user
    if picked is None:
        raise NotPermitted(replies.scope_needs_target(scope))
    return picked.id
