"""The runtime Manage Server check admin commands share, and how their refusals read.

Discord's `default_permissions` hide a command from members, but server owners can override it:
the runtime check is what actually guards.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.errors import NotPermitted, user_message
from bot.guilds import can_manage_server
from bot.replies import ADMIN_ONLY
from dreamcore.errors import DreamError

log = logging.getLogger(__name__)


def is_admin(interaction: discord.Interaction) -> bool:
    return can_manage_server(interaction.user)  # False -> CheckFailure -> answer_error


async def answer_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """One ephemeral line for a refused or failed admin command."""
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(cause, app_commands.CheckFailure):
        text = user_message(NotPermitted(ADMIN_ONLY))
    else:
        if not isinstance(cause, DreamError):
            name = getattr(interaction.command, "qualified_name", "?")
            log.error("admin command %s failed", name, exc_info=cause)
        text = user_message(cause)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)
