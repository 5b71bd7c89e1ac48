"""Dreaming: /dream, /dream-help, "Dream this image", 🌀 reactions, /queue and /dreams."""

from discord.ext.commands import Bot

from bot.cogs.dream.commands import DreamCommands
from bot.cogs.dream.reactions import Reactions
from bot.cogs.dream.status import DreamStatus
from bot.services import services_of


async def setup(bot: Bot) -> None:
    services = services_of(bot)
    await bot.add_cog(DreamCommands(bot, services))
    await bot.add_cog(Reactions(bot, services))
    await bot.add_cog(DreamStatus(services))
