"""/queue: your dreams on their way (with a wait estimate) and the queue's depth; /dreams: your
recent results, with links back to them. Both private (ephemeral), both usable anywhere the
bot's commands are."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import replies
from bot.services import Services

HISTORY = 10


class DreamStatus(commands.Cog, name="DreamStatus"):
    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="queue", description="Your dreams on their way, and the queue")
    async def queue(self, interaction: discord.Interaction) -> None:
        runner = self.services.runner
        lines = [
            replies.job_line(
                live.job_id,
                live.order.params.target,
                live.job.state,
                live.job.position,
                live.done,
                runner.wait_estimate(live.job_id),
            )
            for live in runner.jobs_of(interaction.user.id)
        ]
        stats = self.services.backend.stats()
        text = replies.queue_text(lines, stats.queue_depth, stats.workers_alive)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="dreams", description="Your recent dreams, with links")
    async def dreams(self, interaction: discord.Interaction) -> None:
        rows = await self.services.store.results(interaction.user.id, HISTORY)
        await interaction.response.send_message(replies.history_text(rows), ephemeral=True)
