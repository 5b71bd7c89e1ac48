"""DreamBot: owns the Discord connection, the store, the quota service, the pool and the HTTP session.

Resources are made in `setup_hook` (after login, before the gateway) and released in `close`, in
reverse order. Tests inject a pool and/or store; injected resources belong to the test.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.endpoints import apply_endpoints
from bot.flow import DreamFlow
from bot.guildconf import GuildConfig, resolve
from bot.metrics import BotMetrics
from bot.replies import lost_after_restart_text
from bot.settings import Settings
from bot.views import DreamButton

log = logging.getLogger(__name__)


def make_intents(message_content: bool) -> discord.Intents:
    """Only what the bot uses: guilds, guild messages (fetching), guild reactions."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.guild_reactions = True
    intents.message_content = message_content
    return intents


class DreamBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        pool: Any | None = None,
        store: Any | None = None,
        message_content: bool | None = None,
    ) -> None:
        mc = settings.discord.message_content_intent if message_content is None else message_content
        super().__init__(
            command_prefix=commands.when_mentioned, intents=make_intents(mc), help_command=None
        )
        self.settings = settings
        self.pool = pool
        self.store = store
        self._owns_pool = pool is None
        self._owns_store = store is None
        self.quota: Any = None
        self.flow: DreamFlow | None = None  # type: ignore[assignment]
        self.http_session: aiohttp.ClientSession | None = None
        self._decode_slots = asyncio.Semaphore(2)  # intake image checks at once (memory bound)
        self.lost_jobs: list[Any] = []  # reservations found after a crash (for ops and tests)
        self.metrics = BotMetrics(pool=lambda: self.pool)  # this bot's own registry
        self.health: Any = None  # bot.health.HealthServer when settings.health.enabled

    async def login(self, token: str) -> None:
        apply_endpoints(
            self.settings.discord.api_base, self.settings.discord.gateway_url
        )  # before any request
        await super().login(token)

    async def setup_hook(self) -> None:
        from bot.quota import QuotaService
        from bot.store import Store

        s = self.settings
        if self.store is None:
            self.store = await Store.open(s.store.path)
        self.quota = QuotaService(self.store, s.quota, time.time)
        self.lost_jobs = list(await self.quota.reconcile_after_restart())
        await self._tell_lost(self.lost_jobs)
        if self.pool is None:
            from dreamcore.pool import LocalPool

            self.pool = LocalPool(s.pool, s.engine)
            await self.pool.start()
        self.http_session = aiohttp.ClientSession()
        self.flow = DreamFlow(
            pool=self.pool,
            quota=self.quota,
            progress_interval_s=s.discord.progress_interval_s,
            metrics=self.metrics,
        )
        if s.health.enabled:
            from bot.health import HealthServer

            self.health = HealthServer(self, self.metrics, s.health.host, s.health.port)
            await self.health.start()

        from bot.cogs.admin import AdminCog
        from bot.cogs.dream import DreamCog

        await self.add_cog(DreamCog(self))
        await self.add_cog(AdminCog(self))
        self.add_dynamic_items(DreamButton)
        if s.discord.sync_commands:
            await self._sync()

    async def _sync(self) -> None:
        guild_id = self.settings.discord.dev_guild_id
        if guild_id:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info(
            "synced %d application commands (%s)",
            len(synced),
            f"guild {guild_id}" if guild_id else "global",
        )

    async def _tell_lost(self, rows: list[Any]) -> None:
        """A restart lost these jobs (already refunded by reconcile); tell each user where they asked."""
        for row in rows:
            channel_id = getattr(row, "notify_channel_id", None) or row.channel_id
            try:
                channel = self.get_partial_messageable(channel_id, guild_id=row.guild_id)
                await channel.send(
                    lost_after_restart_text(row.user_id, row.job_id),
                    allowed_mentions=discord.AllowedMentions(users=True),
                )
            except discord.HTTPException as err:
                log.warning(
                    "could not tell user %s about lost job %s: %s", row.user_id, row.job_id, err
                )

    async def close(self) -> None:
        """Drain: finish running jobs and post them, then disconnect, then release resources."""
        if self.health is not None:
            health, self.health = self.health, None
            await health.stop()
        if self.pool is not None and self._owns_pool:
            try:
                await self.pool.close(self.settings.pool.shutdown_timeout_s)
            except Exception:  # noqa: BLE001 - keep shutting down
                log.exception("pool close failed")
        cog = self.get_cog("Dream")
        if cog is not None:
            await cog.drain(timeout=10.0)  # type: ignore[attr-defined]
        await super().close()  # unloads cogs (cancels what is left; the flow refunds it)
        if self.http_session is not None:
            await self.http_session.close()
            self.http_session = None
        if self.store is not None and self._owns_store:
            await self.store.close()

    # --- services the cogs share -----------------------------------------------------------------

    async def guild_config(self, guild_id: int | None) -> GuildConfig:
        stored = await self.store.get_guild_settings(guild_id) if guild_id else None
        return resolve(stored, self.settings.discord)

    def check_channel(self, guild: GuildConfig, channel_id: int | None) -> None:
        from bot.errors import NotAllowedHere

        if not guild.allows(channel_id):
            channels = ", ".join(f"<#{c}>" for c in guild.allowed_channel_ids)
            raise NotAllowedHere(f"Dreams are made in {channels} on this server.")

    async def fetch_image(
        self, url: str, *, max_side: int, declared_size: int | None = None
    ) -> bytes:
        """Download an attachment and check it decodes at the size it will be dreamed at, before it
        costs any quota. Decodes run in threads, a few at a time: a large image needs hundreds of MB."""
        from bot.intake import download_attachment
        from dreamcore.imaging import decode_image

        assert self.http_session is not None
        data = await download_attachment(
            self.http_session, url, config=self.settings.intake, declared_size=declared_size
        )
        e = self.settings.engine
        async with self._decode_slots:
            await asyncio.to_thread(
                decode_image,
                data,
                max_side=min(max_side, e.max_side_cap),
                max_pixels=e.max_input_pixels,
                min_side=e.min_side,
            )
        return data
