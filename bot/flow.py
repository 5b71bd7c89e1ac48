"""An acknowledged request from its images to the answered user.

    publisher: the answer to the request as a whole (one order, or a message's several)
    each order in turn: inputs.fetch (its images, its final price), then
        async with ledger.reserve(order) as ticket:   refused here when over a limit
            runner: backend → events → the publisher's progress sink → the result
            publisher: the answer posted
            ticket.charge(...)                        left without it: refunded

Variants of one image are one download (inputs.fetch_shared) and one job each, reserved in order
(the first is the one held to the limits) and then submitted to the backend at once, so that a
GPU worker steps them together as one batch.

Every way of asking (slash command, button, reaction, context menu) ends here, so the order of
these steps and what the user is told when one fails exist once. Rules: nothing here raises (the
user is always told, the ledger settled); once a dream is delivered it is never taken back.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.delivery import Answer
from bot.errors import QuotaExceeded, user_message
from bot.inputs import Inputs
from bot.joblog import job_ended
from bot.jobs import JobRunner, Timing
from bot.ledger import Delivered, Ledger, Reservation, Ticket
from bot.metrics import BotMetrics
from bot.order import Order, are_variants, part_noun
from bot.publisher import Buttons, Controls, GalleryView, Publisher, publisher_for
from bot.tasks import Tasks
from dreamcore.errors import DreamCancelled, DreamError, PoolClosed
from dreamcore.pool import new_job_id
from dreamcore.request import DreamResult

log = logging.getLogger(__name__)


class DreamFlow:
    def __init__(
        self,
        *,
        inputs: Inputs,
        runner: JobRunner,
        ledger: Ledger,
        tasks: Tasks,
        metrics: BotMetrics,
        progress_interval_s: float,
        buttons: Buttons,
        controls: Controls | None = None,
        gallery: GalleryView | None = None,
        clock=time.monotonic,
    ) -> None:
        self.inputs = inputs
        self.runner = runner
        self.ledger = ledger
        self.tasks = tasks
        self.metrics = metrics
        self.progress_interval_s = progress_interval_s
        self.buttons = buttons  # the view under a result, for its requester
        self.controls = controls  # the view under a waiting job (Cancel): requester, job id
        self.gallery = gallery  # the reply to variants (Components V2); None: embeds
        self._clock = clock
        # A request of several orders (variants, a message's images) is cancelled as a whole
        # by its first job's id (its one Cancel button): its jobs, by that id; and which are.
        self._requests: dict[str, tuple[str, ...]] = {}
        self._cancelled: set[str] = set()

    def start(self, orders: list[Order], answer: Answer) -> asyncio.Task:
        """Answer a request's orders through `answer`, as one of the bot's tasks."""
        job_ids = tuple(new_job_id() for _ in orders)
        variants = are_variants(orders)
        publisher = publisher_for(
            answer,
            orders[0].requester.user_id,
            len(orders),
            buttons=self.buttons,
            controls=self.controls,
            interval=self.progress_interval_s,
            cancel_id=job_ids[0],
            noun=part_noun(orders),
            gallery=self.gallery if variants else None,
        )
        if len(orders) > 1:
            self._requests[job_ids[0]] = job_ids
        if variants:
            work = self._variants(orders, job_ids, publisher)
        else:
            work = self._request(orders, job_ids, publisher)
        return self.tasks.track(work, f"dream-{orders[0].source}")

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job, or every job of a request of several by its first
        (its flow then refunds each and says so); False if it is not running here any more."""
        request = self._requests.get(job_id)
        if request is None:
            return self.runner.cancel(job_id)
        if job_id in self._cancelled:
            return False
        self._cancelled.update(request)  # the parts not started yet never start
        for each in request:
            self.runner.cancel(each)
        return True

    async def _request(
        self, orders: list[Order], job_ids: tuple[str, ...], publisher: Publisher
    ) -> None:
        """The orders in turn, each its own job (charged on its own): the next is fetched once
        this one's dream is made (or failed); together they count once against the user's
        dreams-at-once limit. Shutting down: refused, politely."""
        jobs = []
        try:
            for order, job_id in zip(orders, job_ids, strict=True):
                if self.tasks.closing or job_id in self._cancelled:
                    why = PoolClosed("shutting down") if self.tasks.closing else _cancelled()
                    await publisher.fail(order, user_message(why))
                    continue
                work = self._fetch_and_run(order, job_id, publisher)
                jobs.append(self.tasks.track(work, "dream-order"))
                await publisher.handed_in(order.part)
            await asyncio.gather(*jobs)
        finally:
            self._forget(job_ids)

    async def _variants(
        self, orders: list[Order], job_ids: tuple[str, ...], publisher: Publisher
    ) -> None:
        """Variants of one image: fetched once, reserved in order (the first is held to the
        limits; when it is refused, so is every variant), then submitted all at once."""
        try:
            try:
                if self.tasks.closing:
                    raise PoolClosed("shutting down")
                orders = await self.inputs.fetch_shared(orders)
            except Exception as err:  # noqa: BLE001 - told to every variant (_fetch_failed)
                await _fetch_failed(err, orders, publisher)
                return
            held = await self._reserve_in_order(orders, job_ids, publisher)
            runs = [
                self.tasks.track(self.run(order, publisher, job_id, held=ticket), "dream-order")
                for order, job_id, ticket in held
            ]  # no await between them: the backend gets every variant at once
            await asyncio.gather(*runs)
        finally:
            self._forget(job_ids)

    def _forget(self, job_ids: tuple[str, ...]) -> None:
        """A request of several is over: its first job no longer names it, its cancels go."""
        self._requests.pop(job_ids[0], None)
        self._cancelled.difference_update(job_ids)

    async def _reserve_in_order(
        self, orders: list[Order], job_ids: tuple[str, ...], publisher: Publisher
    ) -> list[tuple[Order, str, Ticket]]:
        """Each variant's ledger row, the first first; the ones refused are told (and so is
        every variant when the first is)."""
        held: list[tuple[Order, str, Ticket]] = []
        refusal: QuotaExceeded | None = None
        for order, job_id in zip(orders, job_ids, strict=True):
            if refusal is None:
                try:
                    held.append((order, job_id, await self.ledger.reserve(order, job_id)))
                    continue
                except QuotaExceeded as err:
                    self.metrics.refused(err)
                    refusal = err if not held else None
                    await publisher.fail(order, user_message(err))
                    order.release()
                    continue
            await publisher.fail(order, user_message(refusal))
            order.release()
        return held

    async def _fetch_and_run(
        self, order: Order, job_id: str, publisher: Publisher
    ) -> DreamResult | None:
        try:
            order = await self.inputs.fetch(order)
        except Exception as err:  # noqa: BLE001 - the user is told (_fetch_failed)
            await _fetch_failed(err, [order], publisher)
            return None
        return await self.run(order, publisher, job_id)

    async def run(
        self,
        order: Order,
        publisher: Publisher,
        job_id: str | None = None,
        *,
        held: Ticket | None = None,
    ) -> DreamResult | None:
        """Run one order (its images fetched) to the end; never raises (the user is always told,
        the ledger settled). `held`: its row, already reserved."""
        job_id, timing = job_id or new_job_id(), Timing(self._clock())
        reservation = Reservation.taken(held) if held else self.ledger.reserve(order, job_id)
        try:
            async with reservation as ticket:
                progress = publisher.progress(order, job_id)
                if job_id in self._cancelled:  # no await from here to the job's submission
                    raise _cancelled()
                try:
                    result = await self.runner.run(
                        order,
                        job_id,
                        max_bytes=publisher.budget(order),
                        ticket=ticket,
                        progress=progress,
                        timing=timing,
                    )
                finally:
                    await progress.close()  # before the answer: no late edit lands over it
                queue_s = timing.queue_s(self._clock())
                message = await publisher.publish(order, job_id, result, queue_s)
                # Delivered: from here on nothing takes the dream back.
                where = (message.channel.id, message.id, message.jump_url) if message else None
                await ticket.charge(Delivered(queue_s, result.seconds, result.seed, where))
        except QuotaExceeded as err:  # refused when reserving: nothing was held
            self.metrics.refused(err)
            await publisher.fail(order, user_message(err))
            return None
        except asyncio.CancelledError:
            self._ended(job_id, order, "cancelled", timing, note="bot shutting down")
            raise
        except DreamError as err:
            # refused at shutdown (PoolClosed) counts as cancelled: the user did nothing wrong
            outcome = "cancelled" if isinstance(err, DreamCancelled | PoolClosed) else "failed"
            self._ended(job_id, order, outcome, timing, note=err.code)
            await publisher.fail(order, user_message(err, job_id=job_id))
            return None
        except Exception as err:  # log with the id; the user gets the id to quote
            log.exception("job %s: unexpected error", job_id)
            self._ended(job_id, order, "failed", timing, note="unexpected")
            await publisher.fail(order, user_message(err, job_id=job_id))
            return None
        finally:
            order.release()
        self._ended(job_id, order, "done", timing, result=result)
        return result

    def _ended(
        self,
        job_id: str,
        order: Order,
        status: str,
        timing: Timing,
        *,
        result: DreamResult | None = None,
        note: str = "",
    ) -> None:
        now = self._clock()
        run_s = result.seconds if result else timing.run_s(now)
        job_ended(
            self.metrics,
            job_id,
            order,
            status,
            queue_s=timing.queue_s(now),
            run_s=run_s,
            result=result,
            note=note,
        )


def _cancelled() -> DreamCancelled:
    return DreamCancelled("cancelled")  # a request of several, cancelled as a whole


async def _fetch_failed(err: Exception, orders: list[Order], publisher: Publisher) -> None:
    """Fetching the image failed: each order is told (a DreamError is user text; anything else
    is logged, and the user gets the generic line)."""
    if not isinstance(err, DreamError):
        log.error("fetching an image failed", exc_info=err)
    for order in orders:
        await publisher.fail(order, user_message(err))


__all__ = ["DreamFlow"]
