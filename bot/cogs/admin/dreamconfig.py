"""/dreamconfig: where dreams are allowed, the server's size cap, reaction re-dreams.

Saved through the guild directory, so the in-memory settings every trigger reads change at once.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import replies
from bot.cogs.admin.checks import answer_error, is_admin
from bot.services import Services


class DreamConfigCommand(commands.Cog, name="DreamConfig"):
    def __init__(self, services: Services) -> None:
        self.services = services

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_error(interaction, error)

    @app_commands.command(name="dreamconfig", description="Where and how this server dreams")
    @app_commands.describe(
        allow_channel="add a channel where dreams are allowed",
        remove_channel="remove an allowed channel",
        everywhere="allow every channel again",
        max_size="longest side of results on this server",
        reaction_redream="re-dream images people react to",
        emoji="the reaction that re-dreams",
        max_frames="frames of an animation, at most, on this server",
        spoiler="post results as spoilers (with spoiler_channel: only there)",
        spoiler_channel="the channel the spoiler setting is for",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
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
        max_frames: app_commands.Range[int, 2, 240] | None = None,
        spoiler: bool | None = None,
        spoiler_channel: app_commands.AppCommandChannel | None = None,
    ) -> None:
        guild_id = interaction.guild_id or 0
        guilds = self.services.guilds
        channels = [] if everywhere else list(guilds.get(guild_id).allowed_channel_ids)
        if allow_channel and allow_channel.id not in channels:
            channels.append(allow_channel.id)
        if remove_channel and remove_channel.id in channels:
            channels.remove(remove_channel.id)
        changes: dict[str, object] = {"allowed_channel_ids": tuple(channels)}
        if max_size is not None:
            changes["max_side"] = max_size
        if reaction_redream is not None:
            changes["reaction_redream"] = reaction_redream
        if emoji:
            changes["reaction_emoji"] = emoji.strip()
        if max_frames is not None:
            changes["max_frames"] = max_frames
        if spoiler is not None and spoiler_channel is not None:
            spoiled = set(guilds.get(guild_id).spoiler_channel_ids) - {spoiler_channel.id}
            changes["spoiler_channel_ids"] = tuple(
                sorted(spoiled | ({spoiler_channel.id} if spoiler else set()))
            )
        elif spoiler is not None:
            changes["spoiler"] = spoiler
        saved = await guilds.update(guild_id, **changes)
        engine = self.services.settings.engine
        text = replies.dreamconfig_text(
            saved.allowed_channel_ids,
            saved.side_cap(engine.max_side_cap),
            saved.reaction_redream,
            saved.reaction_emoji,
            saved.frame_cap(engine.max_animation_frames),
            saved.spoiler,
            saved.spoiler_channel_ids,
        )
        await interaction.response.send_message(text, ephemeral=True)
