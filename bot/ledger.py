"""The usage ledger's state machine: one row per job, from reserved to charged or refunded.

    async with ledger.reserve(order, job_id) as ticket:  # limits checked and a row reserved,
        await ticket.running()                           # atomically; the worker started it
        ...
        await ticket.charge(delivered)                   # delivered: done, costs its units
    # left without a charge (an error, a failure, a cancellation): refunded, costs nothing

Only the ledger moves a row, and only forward: a row charged or refunded stays so. A charge that
fails is retried in the background (the dream was delivered: it stands); a refund that fails is
settled at the next start by `reconcile_after_restart`, which turns every row a previous run left
in flight into `lost` (never charged). The statements themselves are the store's (`Tx`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal

from bot.order import Order
from bot.quota import QuotaService
from bot.store import IN_FLIGHT, LedgerRow, Store, Tx
from bot.tasks import Tasks
from dreamcore.errors import DreamCancelled, DreamError, PoolClosed
from dreamcore.pool import new_job_id

log = logging.getLogger(__name__)
CHARGE_RETRIES_S = (1, 5, 15, 60, 300)  # a failed charge is tried again after these waits
Refund = Literal["failed", "cancelled", "lost"]


@dataclass(frozen=True)
class Delivered:
    """What a charge records of a delivered dream (for history and /dreams)."""

    queue_s: float
    run_s: float
    seed: int | None = None
    where: tuple[int, int, str] | None = None  # the posted result: (channel, message, link)


def refund_for(error: BaseException | None) -> tuple[Refund, str]:
    """How a job that ends without a charge is written down: its status and why."""
    if error is None:
        return "failed", "not delivered"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled", "bot shutting down"
    if isinstance(error, DreamCancelled | PoolClosed):  # the user did nothing wrong
        return "cancelled", error.code
    if isinstance(error, DreamError):
        return "failed", error.code
    return "failed", repr(error)[:200]


class Ticket:
    """One reserved job's way through the ledger. Its methods never take a delivered dream back:
    once charged (or refunded) the row is settled, whatever is asked later."""

    def __init__(self, job_id: str, store: Store, tasks: Tasks, clock: Callable[[], float]) -> None:
        self.job_id = job_id
        self._store, self._tasks, self._clock = store, tasks, clock
        self.settled = False

    async def running(self) -> None:
        now = self._clock()
        await self._store.transaction(
            lambda tx: tx.update_job(
                self.job_id, only_if=("reserved",), status="running", started_at=now
            )
        )

    async def charge(self, delivered: Delivered) -> None:
        """Done: the row costs its units. Never raises: a failed write is retried in the
        background (and, never written, refunded by the next start)."""
        if self.settled:
            return
        self.settled = True
        try:
            await self._write_charge(delivered)
        except Exception:  # the dream stands; settle the ledger later
            log.exception("job %s: charge failed; retrying in the background", self.job_id)
            self._tasks.track(self._charge_later(delivered), f"charge-{self.job_id}")

    async def refund(self, status: Refund, error: str | None = None) -> None:
        """Ended without a dream: the row costs nothing. Never raises (a restart settles it)."""
        if self.settled:
            return
        self.settled = True
        now = self._clock()
        try:
            await self._store.transaction(
                lambda tx: tx.update_job(
                    self.job_id,
                    only_if=IN_FLIGHT,
                    status=status,
                    cost=0,
                    error=error,
                    finished_at=now,
                )
            )
        except Exception:  # reconcile_after_restart settles it later
            log.exception("job %s: refund failed", self.job_id)

    async def _write_charge(self, delivered: Delivered) -> None:
        now = self._clock()
        channel_id, message_id, url = delivered.where or (None, None, None)
        await self._store.transaction(
            lambda tx: tx.charge_job(
                self.job_id,
                finished_at=now,
                queue_s=delivered.queue_s,
                run_s=delivered.run_s,
                seed=delivered.seed,
                result_channel_id=channel_id,
                result_message_id=message_id,
                result_url=url,
            )
        )

    async def _charge_later(self, delivered: Delivered) -> None:
        for wait in CHARGE_RETRIES_S:
            await asyncio.sleep(wait)
            try:
                await self._write_charge(delivered)
                log.info("job %s: charged after a retry", self.job_id)
                return
            except Exception as err:  # noqa: BLE001
                log.warning("job %s: charge retry failed: %r", self.job_id, err)
        log.error("job %s: delivered but never charged (the next start refunds it)", self.job_id)


class Reservation:
    """`async with` it: the ticket, refunded on the way out unless charged. (`await` it for a
    ticket whose holder settles it.)"""

    def __init__(self, take: Callable[[], Awaitable[Ticket]]) -> None:
        self._take = take
        self._ticket: Ticket | None = None

    @classmethod
    def taken(cls, ticket: Ticket) -> Reservation:
        """A ticket already reserved (variants reserve in order, then run together), to be
        settled the same way: refunded on the way out unless charged."""

        async def take() -> Ticket:
            return ticket

        return cls(take)

    def __await__(self) -> Generator[Any, None, Ticket]:
        return self._take().__await__()

    async def __aenter__(self) -> Ticket:
        self._ticket = await self._take()
        return self._ticket

    async def __aexit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        assert self._ticket is not None
        if not self._ticket.settled:
            await self._ticket.refund(*refund_for(error))


class Ledger:
    def __init__(
        self,
        store: Store,
        quota: QuotaService,
        tasks: Tasks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.quota = quota
        self.tasks = tasks
        self.clock = clock

    def reserve(self, order: Order, job_id: str | None = None) -> Reservation:
        """Check every limit for `order` and record its row as `reserved`, atomically; raises
        QuotaExceeded. A later part of a request (`order.follows`) is not held again to the
        dreams-at-once limits nor the cooldown (the daily ones still count its price)."""
        return Reservation(lambda: self._reserve(order, job_id or new_job_id()))

    async def _reserve(self, order: Order, job_id: str) -> Ticket:
        who, now = order.requester, self.clock()
        row = LedgerRow(
            job_id=job_id,
            user_id=who.user_id,
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            source=order.source,
            model=order.params.model,
            layer=order.params.target,
            params=order.params.model_dump(mode="json"),
            status="reserved",
            created_at=now,
            notify_channel_id=who.channel_id,
            units=order.units,
        )

        def check_and_insert(tx: Tx) -> None:
            refusal = self.quota.refusal(
                tx, who.user_id, who.guild_id, who.role_ids, now, order.units, order.follows
            )
            if refusal is not None:
                raise refusal
            tx.insert_job(row)

        await self.store.transaction(check_and_insert)
        return Ticket(job_id, self.store, self.tasks, self.clock)

    async def reconcile_after_restart(self) -> list[LedgerRow]:
        """Rows a previous run left in flight become `lost` (never charged), returned so their
        users can be told."""
        now = self.clock()

        def run(tx: Tx) -> list[LedgerRow]:
            ids = tx.in_flight_job_ids()
            for job_id in ids:
                tx.update_job(
                    job_id,
                    only_if=IN_FLIGHT,
                    status="lost",
                    cost=0,
                    finished_at=now,
                    error="the bot restarted while this dream was queued or running",
                )
            return [row for job_id in ids if (row := tx.get_job(job_id)) is not None]

        return await self.store.transaction(run)
