"""Dreaming: /dream, /dream-help, "Dream this image", and 🌀 reactions."""

from discord.ext.commands import Bot

from bot.cogs.dream.commands import DreamCommands
from bot.cogs.dream.reactions import Reactions
from bot.services import services_of


async def setup(bot: Bot) -> None:
    services = services_of(bot)
    await bot.add_cog(DreamCommands(bot, services))
    await bot.add_cog(Reactions(bot, services))
