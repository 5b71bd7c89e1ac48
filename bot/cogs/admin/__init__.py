"""Server admins: quotas (/quota) and where and how the server dreams (/dreamconfig)."""

from discord.ext.commands import Bot

from bot.cogs.admin.dreamconfig import DreamConfigCommand
from bot.cogs.admin.quota import QuotaCommands
from bot.services import services_of


async def setup(bot: Bot) -> None:
    services = services_of(bot)
    await bot.add_cog(QuotaCommands(services))
    await bot.add_cog(DreamConfigCommand(services))
