"""Everything the bot's cogs and buttons work with, built once in `setup_hook` and closed in
`close`: one typed object instead of attributes on the client.

    store → quota, ledger, guild settings → backend (worker pool) → intake → runner, flow → orders

Cogs and buttons reach it with `services_of(client)`; nothing imports the client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import discord

from bot.flow import DreamFlow
from bot.guilds import GuildDirectory
from bot.inputs import Inputs
from bot.intake import Intake
from bot.jobs import JobRunner
from bot.ledger import Ledger
from bot.metrics import BotMetrics
from bot.order import Pricing
from bot.orders import OrderDesk
from bot.publisher import GalleryView
from bot.quota import QuotaService
from bot.settings import Settings
from bot.store import LedgerRow, Store
from bot.tasks import Tasks
from dreamcore.links import Network
from dreamcore.pool import DreamBackend, make_backend

log = logging.getLogger(__name__)
DRAIN_ANSWERS_S = 10.0  # after the backend finished its jobs, time for their answers to post


@dataclass
class Services:
    settings: Settings
    store: Store
    quota: QuotaService
    ledger: Ledger
    guilds: GuildDirectory
    backend: DreamBackend
    intake: Intake
    tasks: Tasks  # the dreams on their way and the charges retried: drained at shutdown
    runner: JobRunner
    flow: DreamFlow
    orders: OrderDesk
    metrics: BotMetrics
    lost_jobs: list[LedgerRow] = field(default_factory=list)  # found at start, already refunded
    owns_store: bool = True
    owns_backend: bool = True

    @classmethod
    async def open(
        cls,
        settings: Settings,
        client: discord.Client,
        *,
        buttons: Callable[..., discord.ui.View],
        controls: Callable[[int, str], discord.ui.View] | None = None,
        gallery: GalleryView | None = None,
        metrics: BotMetrics,
        backend: DreamBackend | None = None,
        store: Store | None = None,
        network: Network | None = None,
    ) -> Services:
        """Build everything; a backend or store passed in stays the caller's to close. `network`:
        how links are reached (None: this machine's DNS and TCP)."""
        owns_store, owns_backend = store is None, backend is None
        store = store or await Store.open(settings.store.path)
        tasks = Tasks()
        try:
            quota = QuotaService(store, settings.quota, time.time)
            ledger = Ledger(store, quota, tasks, time.time)
            lost = list(await ledger.reconcile_after_restart())
            guilds = GuildDirectory(store, settings.discord)
            await guilds.load()
            if backend is None:
                backend = make_backend(settings.pool, settings.engine)  # local or Ray
                await backend.start()
        except BaseException:
            if owns_store:
                await store.close()
            raise
        intake = Intake(settings.intake, settings.engine, network)
        await intake.open()
        runner = JobRunner(backend)
        flow = DreamFlow(
            inputs=Inputs(intake, Pricing(settings.engine, quota.units_for)),
            runner=runner,
            ledger=ledger,
            tasks=tasks,
            metrics=metrics,
            progress_interval_s=settings.discord.progress_interval_s,
            buttons=buttons,
            controls=controls,
            gallery=gallery,
        )
        orders = OrderDesk(
            settings=settings, client=client, guilds=guilds, quota=quota, flow=flow, metrics=metrics
        )
        return cls(
            settings,
            store,
            quota,
            ledger,
            guilds,
            backend,
            intake,
            tasks,
            runner,
            flow,
            orders,
            metrics,
            lost,
            owns_store,
            owns_backend,
        )

    async def drain(self) -> None:
        """Stop taking dreams; running ones finish and are posted, queued ones are refunded."""
        if self.owns_backend:
            try:
                await self.backend.close(self.settings.pool.shutdown_timeout_s)
            except Exception:  # keep shutting down
                log.exception("closing the worker pool failed")
        await self.tasks.drain(DRAIN_ANSWERS_S)

    async def close(self) -> None:
        """After the gateway closed: cancel what is left, then release resources."""
        await self.tasks.close()
        await self.intake.close()
        if self.owns_store:
            await self.store.close()


def services_of(client: discord.Client) -> Services:
    services = getattr(client, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("the bot's services are not running")
    return services
