"""From any trigger to an acknowledged order: the one way in for every way of asking.

A trigger (slash command, context menu, reaction, button: bot/reception.py) says who asked and
where, and how to choose the dream (params and image) once the server's settings are known. The
desk then does, in this order:

  server settings (memory) → channel check → choose → the orders (who, spoiler, price) →
  quota peek → acknowledge (or refuse) → hand them to the flow (bot/flow.py)

Everything before the acknowledgement is memory-only except the quota peek, which reads the
database on its own reader (never blocked by a writer) within a time budget, so the 3-second
acknowledgement holds. A refusal up to there is ephemeral for an interaction (no public noise,
nothing downloaded); a reaction gets a short-lived line at most once per message and user.
"""

from __future__ import annotations

import asyncio
import inspect

import discord

from bot.flow import DreamFlow
from bot.guilds import GuildDirectory
from bot.metrics import BotMetrics
from bot.order import Choose, ImageRef, Plan, Pricing, Requester, orders_for
from bot.quota import QuotaService
from bot.reception import Reception, Trigger
from bot.settings import Settings
from dreamcore.errors import DreamError

PEEK_BUDGET_S = 1.5  # of the 3 s Discord gives to acknowledge

__all__ = ["Choose", "ImageRef", "OrderDesk", "Plan", "Trigger"]  # what cogs and buttons use


class OrderDesk:
    def __init__(
        self,
        *,
        settings: Settings,
        client: discord.Client,
        guilds: GuildDirectory,
        quota: QuotaService,
        flow: DreamFlow,
        metrics: BotMetrics,
    ) -> None:
        self.guilds = guilds
        self.quota = quota
        self.flow = flow
        self.pricing = Pricing(settings.engine, quota.units_for)
        self.reception = Reception(client, settings.discord, metrics)

    async def take(self, trigger: Trigger, choose: Choose) -> asyncio.Task | None:
        """Refuse, or acknowledge and start the dream; never raises for a user's mistake."""
        guild = self.guilds.get(trigger.guild_id)
        who = Requester.of(trigger.user, trigger.guild_id, trigger.channel)
        try:
            guild.check_channel(trigger.channel)
            chosen = choose(guild)
            if inspect.isawaitable(chosen):  # it reads Discord first (e.g. the channel's history)
                chosen = await chosen
            orders = orders_for(trigger.source, who, guild, trigger.channel, chosen, self.pricing)
            refusal = await self.quota.peek(
                user_id=who.user_id,
                guild_id=who.guild_id,
                role_ids=who.role_ids,
                units=sum(order.units for order in orders),
                budget_s=PEEK_BUDGET_S,
            )
            if refusal is not None:
                raise refusal
        except DreamError as err:
            await self.reception.refuse(trigger, err)
            return None
        answer = await self.reception.acknowledge(trigger)
        if answer is None:
            return None
        return self.flow.start(orders, answer)
