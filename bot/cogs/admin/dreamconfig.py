"""/dreamconfig: every server setting declared in `GuildSettings` (bot/guilds.py), each with the
slash options its declaration gives it (where dreams are allowed, the size and frame caps, reaction
re-dreams and their emoji, spoilers for the server or one channel); answers with the settings now
in force, one line each.

Saved through the guild directory, so the in-memory settings every trigger reads change at once.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import replies
from bot.cogs.admin.checks import answer_error, is_admin
from bot.guilds import GuildSettings
from bot.serversettings import changes_from_options, shown, slash_options
from bot.services import Services


class DreamConfigCommand(commands.Cog, name="DreamConfig"):
    def __init__(self, services: Services) -> None:
        self.services = services

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_error(interaction, error)

    @app_commands.command(name="dreamconfig", description="Where and how this server dreams")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.check(is_admin)
    @slash_options(GuildSettings)  # one optional option per declared option, in declared order
    async def dreamconfig(self, interaction: discord.Interaction, **given: Any) -> None:
        guild_id = interaction.guild_id or 0
        guilds = self.services.guilds
        changes = changes_from_options(guilds.get(guild_id), given)
        saved = await guilds.update(guild_id, **changes)
        text = replies.dreamconfig_text(shown(saved, self.services.settings.engine))
        await interaction.response.send_message(text, ephemeral=True)
