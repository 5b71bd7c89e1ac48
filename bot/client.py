"""DreamBot: the thin shell. It owns lifecycles and nothing else.

`setup_hook` (after login, before the gateway) builds the services, tells users about dreams a
crash lost, loads the cogs as extensions, registers the result buttons and syncs the commands.
`close` drains (running dreams finish and post, queued ones are refunded), disconnects, and
releases everything in reverse order. Tests may pass in a backend and/or a store; what is passed
in stays theirs; and a network for links (a DNS of their own, a connector that reaches only
loopback).
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.buttons import (
    CancelButton,
    DreamButton,
    VariantButton,
    cancel_view,
    gallery_view,
    result_view,
)
from bot.delivery import announce_lost
from bot.endpoints import apply_endpoints
from bot.health import HealthServer
from bot.metrics import BotMetrics
from bot.services import Services
from bot.settings import Settings
from bot.store import Store
from dreamcore.links import Network
from dreamcore.pool import DreamBackend

log = logging.getLogger(__name__)
EXTENSIONS = ("bot.cogs.dream", "bot.cogs.admin")


def make_intents(message_content: bool) -> discord.Intents:
    """Only what the bot uses: guilds, guild messages (fetching), guild reactions."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.guild_reactions = True
    intents.message_content = message_content
    return intents


class DreamBot(commands.Bot):
    services: Services | None

    def __init__(
        self,
        settings: Settings,
        *,
        backend: DreamBackend | None = None,
        store: Store | None = None,
        message_content: bool | None = None,
        network: Network | None = None,
    ) -> None:
        d = settings.discord
        mc = d.message_content_intent if message_content is None else message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=make_intents(mc),
            help_command=None,
            # Every command may be used in servers, the bot's DMs and group DMs, and installed
            # to a user's account (unless turned off); admin commands narrow this to servers.
            allowed_installs=app_commands.AppInstallationType(guild=True, user=d.user_installs),
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=True
            ),
        )
        self.settings = settings
        self.services = None
        self.metrics = BotMetrics(pool=lambda: self.services.backend if self.services else None)
        self.health: HealthServer | None = None
        self._given = (backend, store)
        self._network = network

    async def login(self, token: str) -> None:
        d = self.settings.discord
        apply_endpoints(d.api_base, d.gateway_url, d.cdn_base)  # before any request
        await super().login(token)

    async def setup_hook(self) -> None:
        backend, store = self._given
        self.services = await Services.open(
            self.settings,
            self,
            buttons=result_view,
            controls=cancel_view,
            gallery=gallery_view,
            metrics=self.metrics,
            backend=backend,
            store=store,
            network=self._network,
        )
        await announce_lost(self, self.services.lost_jobs)
        h = self.settings.health
        if h.enabled:
            self.health = HealthServer(self, self.services, self.metrics, h.host, h.port)
            await self.health.start()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(DreamButton, CancelButton, VariantButton)
        if self.settings.discord.sync_commands:
            await self._sync()

    async def _sync(self) -> None:
        guild_id = self.settings.discord.dev_guild_id
        if guild_id:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        where = f"guild {guild_id}" if guild_id else "global"
        log.info("synced %d application commands (%s)", len(synced), where)

    async def close(self) -> None:
        """Drain: finish running jobs and post them, then disconnect, then release resources."""
        if self.health is not None:
            health, self.health = self.health, None
            await health.stop()
        if self.services is not None:
            await self.services.drain()
        await super().close()  # unloads the cogs
        if self.services is not None:
            await self.services.close()
