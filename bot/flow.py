"""An acknowledged request from its images to the answered user.

    publisher: the answer to the request as a whole (one order, or a message's several)
    each order in turn: inputs.fetch (its images, its final price), then
        async with ledger.reserve(order) as ticket:   refused here when over a limit
            runner: backend → events → the publisher's progress sink → the result
            publisher: the answer posted
            ticket.charge(...)                        left without it: refunded

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
from bot.ledger import Delivered, Ledger
from bot.metrics import BotMetrics
from bot.order import Order
from bot.publisher import Buttons, Controls, Publisher, publisher_for
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
        self._clock = clock

    def start(self, orders: list[Order], answer: Answer) -> asyncio.Task:
        """Answer a request's orders through `answer`, as one of the bot's tasks."""
        publisher = publisher_for(
            answer,
            orders[0].requester.user_id,
            len(orders),
            buttons=self.buttons,
            controls=self.controls,
            interval=self.progress_interval_s,
        )
        return self.tasks.track(self._request(orders, publisher), f"dream-{orders[0].source}")

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job (its flow then refunds it and says so); False if it
        is not running here any more."""
        return self.runner.cancel(job_id)

    async def _request(self, orders: list[Order], publisher: Publisher) -> None:
        """The orders in turn, each its own job (charged on its own): the next is fetched once
        this one's dream is made (or failed); together they count once against the user's
        dreams-at-once limit. Shutting down: refused, politely."""
        jobs = []
        for order in orders:
            if self.tasks.closing:
                await publisher.fail(order, user_message(PoolClosed("shutting down")))
                continue
            jobs.append(self.tasks.track(self._fetch_and_run(order, publisher), "dream-order"))
            await publisher.handed_in(order.part)
        await asyncio.gather(*jobs)

    async def _fetch_and_run(self, order: Order, publisher: Publisher) -> DreamResult | None:
        try:
            order = await self.inputs.fetch(order)
        except Exception as err:  # DreamErrors are user text; others get logged
            if not isinstance(err, DreamError):
                log.error("fetching an image failed", exc_info=err)
            await publisher.fail(order, user_message(err))
            return None
        return await self.run(order, publisher)

    async def run(self, order: Order, publisher: Publisher) -> DreamResult | None:
        """Run one order (its images fetched) to the end; never raises (the user is always told,
        the ledger settled)."""
        job_id, timing = new_job_id(), Timing(self._clock())
        try:
            async with self.ledger.reserve(order, job_id) as ticket:
                progress = publisher.progress(order, job_id)
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


__all__ = ["DreamFlow"]
