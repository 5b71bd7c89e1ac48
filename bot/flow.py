"""One dream job from accepted order to answered user: reserve, queue, progress, deliver, charge.

Every way of asking (slash command, button, reaction, context menu) ends here, so quota, progress
throttling, the answer planned against the upload limit (bot/upload_plan.py), spoilers, refunds
and the per-job log line exist once. `DreamFlow` also owns the jobs' tasks, so shutdown can let
them finish (`drain`) or cancel them (`close`).

Rules: `run` never raises (the user is always told, the ledger settled); any way out of a job
that did not finish cancels it in the backend (nobody would read the result); once a dream is
delivered it is never taken back, and a charge that fails is retried in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import discord

from bot.delivery import Answer, Upload, is_too_large
from bot.errors import user_message
from bot.estimates import QueueEstimates
from bot.intake import HeldImage
from bot.metrics import BotMetrics
from bot.quota import QuotaService
from bot.replies import (
    GUIDE_NAME,
    SOURCE_PREFIX,
    left_out_notes,
    progress_text,
    queued_text,
    result_embed,
    result_filename,
    starting_text,
)
from bot.store import Source
from bot.upload_plan import Named, UploadPlan, dream_budget, limit_after_refusal, plan_upload
from dreamcore.errors import DreamCancelled, DreamError, PoolClosed
from dreamcore.pool import DreamBackend, Job, new_job_id
from dreamcore.request import DreamParams, DreamRequest, DreamResult

log = logging.getLogger(__name__)
TOO_LARGE = "The dream came out too large to upload here; try a smaller size or fewer frames."
CHARGE_RETRIES_S = (1, 5, 15, 60, 300)  # a failed charge is tried again after these waits
DELIVERY_TRIES = 6  # plans of the answer tried: each after a 413 for half the last (1/32)


@dataclass(frozen=True)
class Requester:
    user_id: int
    guild_id: int | None
    channel_id: int
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class DreamOrder:
    requester: Requester
    image: HeldImage
    params: DreamParams
    source: Source  # slash | context | reaction | button (the ledger's column)
    notes: tuple[str, ...] = ()  # shown under the result (e.g. "the original was gone")
    guide: HeldImage | None = None  # when params.guided
    units: int = 1  # its price in dreams (an animation costs more)
    spoiler: bool = False  # every file of the answer a spoiler (decided by the order desk)
    follows: bool = False  # one of a message's images after the first (counted once at a time)

    def release(self) -> None:
        """Give the images' bytes back to the intake's budget."""
        self.image.release()
        if self.guide is not None:
            self.guide.release()

    @property
    def extras(self) -> tuple[Named, ...]:
        """Posted beside the dream: its source, and its guide (buttons dream them again)."""
        source = ((self.image.source_name, self.image.source),)
        return source + (((GUIDE_NAME, self.guide.source),) if self.guide else ())


@dataclass
class LiveJob:
    """A job on its way: what the queue estimate and /queue read."""

    job_id: str
    order: DreamOrder
    job: Job
    started: float | None = None
    done: float = 0.0  # the fraction of the dream made


class StatusLine:
    """At most one status edit per `interval`, and the newest one always shows: an update that
    arrives too soon is sent when the interval is over (so the last progress and its preview
    appear even if the job then goes quiet for a while)."""

    def __init__(
        self,
        answer: Answer,
        interval: float,
        clock=time.monotonic,
        view: discord.ui.View | None = None,
        spoiler: bool = False,
    ) -> None:
        self._answer, self._interval, self._clock = answer, interval, clock
        self._view = view  # controls under the status (Cancel), sent with the first update
        self._spoiler = spoiler  # previews of a hidden answer are hidden too
        self._last = float("-inf")
        self._pending: tuple[str, bytes | None] | None = None
        self._wake = asyncio.Event()
        self._sending: asyncio.Task | None = None
        self._task = asyncio.create_task(self._run(), name="dream-status")

    def show(self, text: str, preview: bytes | None = None) -> None:
        if self._pending is not None and preview is None:
            preview = self._pending[1]  # an unsent preview survives a newer text
        self._pending = (text, preview)
        self._wake.set()

    async def close(self) -> None:
        """Drop what is pending; let an edit already on its way land first (so it cannot land
        after, and overwrite, the result)."""
        self._pending = None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last + self._interval - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._pending is None:
                continue
            (text, preview), self._pending = self._pending, None
            self._last = self._clock()
            # shielded: closing this loop must not cut an edit off half-sent
            self._sending = asyncio.ensure_future(self._send(text, preview))
            await asyncio.shield(self._sending)

    async def _send(self, text: str, preview: bytes | None) -> None:
        try:
            await self._answer.status(text, preview, self._view, spoiler=self._spoiler)
            self._view = None  # it stays on the message
        except Exception:  # noqa: BLE001 - answers swallow their own errors; belt and braces
            log.exception("status update failed")


class DreamFlow:
    def __init__(
        self,
        *,
        backend: DreamBackend,
        quota: QuotaService,
        metrics: BotMetrics,
        progress_interval_s: float,
        buttons: Callable[..., discord.ui.View],
        controls: Callable[[int, str], discord.ui.View] | None = None,
        clock=time.monotonic,
    ) -> None:
        self.backend = backend
        self.buttons = buttons  # the view under a result, for its requester
        self.controls = controls  # the view under a waiting job (Cancel): requester, job id
        self.estimates = QueueEstimates()
        self.live: dict[str, LiveJob] = {}
        self.quota = quota
        self.metrics = metrics
        self.progress_interval_s = progress_interval_s
        self._clock = clock
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    # --- the jobs' tasks ---------------------------------------------------------------------

    def start(self, order: DreamOrder, answer: Answer) -> asyncio.Task:
        """Run `order` in a tracked task (after shutdown began: refuse it, politely)."""
        if self._closing:
            order.release()
            coro = answer.fail(user_message(PoolClosed("shutting down")))
        else:
            coro = self.run(order, answer)
        return self.track(coro, f"dream-{order.source}")

    def track(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run `coro` as one of the flow's tasks: drained and cancelled with the others."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Stop taking orders; wait for running ones to answer (the backend finishes their jobs)."""
        self._closing = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def close(self) -> None:
        """Cancel what is left (each refunds itself)."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job (its flow then refunds it and says so); False if it
        is not running here any more."""
        live = self.live.get(job_id)
        if live is None or live.job.finished:
            return False
        live.job.cancel()
        return True

    def jobs_of(self, user_id: int) -> list[LiveJob]:
        return [j for j in self.live.values() if j.order.requester.user_id == user_id]

    def wait_estimate(self, job_id: str) -> float | None:
        """About how long until a queued job starts."""
        me = self.live.get(job_id)
        if me is None or me.job.position is None or me.job.state != "queued":
            return None
        now = self._clock()
        ahead = [
            j.order.params
            for j in self.live.values()
            if j.job.state == "queued" and (j.job.position or 0) < me.job.position
        ]
        running = [(j.order.params, now - (j.started or now)) for j in self.live.values()
                   if j.job.state == "running"]  # fmt: skip
        stats = self.backend.stats()  # dreams run side by side: several per GPU worker
        return self.estimates.wait(ahead, running, stats.places or stats.workers_alive)

    # --- one job -----------------------------------------------------------------------------

    async def run(self, order: DreamOrder, answer: Answer) -> DreamResult | None:
        """Run one order to the end; never raises (the user is always told, the ledger settled)."""
        job_id = new_job_id()
        try:
            if not await self._reserve(job_id, order, answer):
                return None
            try:
                return await self._run_reserved(job_id, order, answer)
            except asyncio.CancelledError:
                await self._refund(job_id, "cancelled", "bot shutting down")
                raise
        finally:
            order.release()

    async def _reserve(self, job_id: str, order: DreamOrder, answer: Answer) -> bool:
        req = order.requester
        try:
            await self.quota.reserve(
                job_id=job_id,
                user_id=req.user_id,
                guild_id=req.guild_id,
                channel_id=req.channel_id,
                role_ids=list(req.role_ids),
                source=order.source,
                model=order.params.model,
                layer=order.params.target,
                params=order.params.model_dump(mode="json"),
                notify_channel_id=req.channel_id,
                units=order.units,
                follows=order.follows,
            )
            return True
        except DreamError as err:
            self.metrics.refused(err)
            await answer.fail(user_message(err))
        except Exception as err:  # noqa: BLE001 - the store failing must not leave the user waiting
            log.exception("job %s: quota reserve failed", job_id)
            self.metrics.job_ended("failed")
            await answer.fail(user_message(err, job_id=job_id))
        return False

    async def _run_reserved(
        self, job_id: str, order: DreamOrder, answer: Answer
    ) -> DreamResult | None:
        accepted = self._clock()
        started: float | None = None
        request = DreamRequest(
            image=order.image.data,
            params=order.params,
            guide=order.guide.data if order.guide else None,
            # the dream first; its source and guide keep some room beside it
            output_max_bytes=max(1024, dream_budget(answer.upload_limit, order.extras)),
            preview=True,  # a small JPEG at the end of each octave, shown under the progress bar
        )
        job: Job | None = None
        controls = self.controls(order.requester.user_id, job_id) if self.controls else None
        status = StatusLine(
            answer, self.progress_interval_s, self._clock, controls, spoiler=order.spoiler
        )
        try:
            job = self.backend.submit(request, job_id=job_id)
            live = self.live[job_id] = LiveJob(job_id, order, job)
            async for event in job.events():
                if event.kind == "queued" and event.position:
                    status.show(queued_text(event.position, self.wait_estimate(job_id)))
                elif event.kind == "started":
                    started = live.started = self._clock()
                    status.show(starting_text())
                    await self.quota.mark_running(job_id)
                elif event.kind == "progress" and event.progress:
                    live.done = event.progress.fraction
                    status.show(progress_text(event.progress), event.progress.preview)
            result = await job.result()
            await status.close()
            queue_s = (started or self._clock()) - accepted
            view = self.buttons(order.requester.user_id, still=result.frames == 1)

            def compose(plan: UploadPlan) -> Upload:
                embed = result_embed(
                    result,
                    order.params,
                    requester_id=order.requester.user_id,
                    job_id=job_id,
                    queue_s=queue_s,
                    with_source=plan.extra_named(SOURCE_PREFIX),
                    notes=(*order.notes, *left_out_notes(plan.left_out)),
                    units=order.units,
                )
                embed.set_image(url=f"attachment://{plan.dream[0]}")  # re-encoded: renamed
                upload = Upload(plan.dream[1], plan.dream[0], embed, view, plan.extras)
                return upload.as_spoiler() if order.spoiler else upload

            dream = (result_filename(result), result.image)
            message = await self._deliver(
                dream, order.extras, compose, answer, reencodable=result.frames == 1
            )
        except asyncio.CancelledError:
            self._log_end(job_id, order, "cancelled", accepted, started, note="bot shutting down")
            raise
        except DreamError as err:
            # refused at shutdown (PoolClosed) counts as cancelled: the user did nothing wrong
            outcome = "cancelled" if isinstance(err, DreamCancelled | PoolClosed) else "failed"
            await self._refund(job_id, outcome, err.code)
            self._log_end(job_id, order, outcome, accepted, started, note=err.code)
            await answer.fail(user_message(err, job_id=job_id))
            return None
        except Exception as err:  # noqa: BLE001 - log with the id; the user gets the id to quote
            log.exception("job %s: unexpected error", job_id)
            self._log_end(job_id, order, "failed", accepted, started, note="unexpected")
            await self._refund(job_id, "failed", repr(err)[:200])
            await answer.fail(user_message(err, job_id=job_id))
            return None
        finally:
            await status.close()
            self.live.pop(job_id, None)
            if job is not None and not job.finished:
                job.cancel()  # nobody will read the result: free the worker
        self.estimates.record(order.params, result.seconds)
        # Delivered: from here on nothing takes the dream back.
        where = (message.channel.id, message.id, message.jump_url) if message is not None else None
        await self._charge(job_id, queue_s=queue_s, run_s=result.seconds, seed=result.seed,
                           result=where)  # fmt: skip
        self._log_end(job_id, order, "done", accepted, started, result=result)
        return result

    async def _deliver(
        self,
        dream: Named,
        extras: tuple[Named, ...],
        compose: Callable[[UploadPlan], Upload],
        answer: Answer,
        *,
        reencodable: bool,
    ) -> discord.Message | None:
        """Post the answer planned as a whole against the upload limit. A 413 despite the plan
        (the real limit is lower than we were told) plans it again for less, a few times."""
        limit = answer.upload_limit
        for _ in range(DELIVERY_TRIES):
            plan = await asyncio.to_thread(
                plan_upload, dream, extras, limit, reencodable=reencodable
            )
            if plan is None:
                break
            try:
                return await answer.deliver(compose(plan))
            except discord.HTTPException as err:
                if not is_too_large(err):
                    raise
                next_limit = limit_after_refusal(plan, reencodable=reencodable)
                log.info("answer of %d bytes refused (413); planning for %s", plan.size, next_limit)
                if next_limit is None:
                    break
                limit = next_limit
        raise DreamError(TOO_LARGE)

    async def _charge(self, job_id: str, **details: Any) -> None:
        try:
            await self.quota.charge(job_id, **details)
        except Exception:  # noqa: BLE001 - the dream stands; settle the ledger later
            log.exception("job %s: charge failed; retrying in the background", job_id)
            self.track(self._charge_later(job_id, details), f"charge-{job_id}")

    async def _charge_later(self, job_id: str, details: dict[str, Any]) -> None:
        for wait in CHARGE_RETRIES_S:
            await asyncio.sleep(wait)
            try:
                await self.quota.charge(job_id, **details)
                log.info("job %s: charged after a retry", job_id)
                return
            except Exception as err:  # noqa: BLE001
                log.warning("job %s: charge retry failed: %r", job_id, err)
        log.error("job %s: delivered but never charged (the next start refunds it)", job_id)

    async def _refund(self, job_id: str, status: str, error: str) -> None:
        try:
            await self.quota.refund(job_id, status=status, error=error)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - reconcile_after_restart settles it later
            log.exception("job %s: refund failed", job_id)

    def _log_end(
        self,
        job_id: str,
        order: DreamOrder,
        status: str,
        accepted: float,
        started: float | None,
        *,
        result: DreamResult | None = None,
        note: str = "",
    ) -> None:
        """The job's one log line (the same fields structured, for JSON logs) and its metrics."""
        now = self._clock()
        queue_s = (started or now) - accepted
        run_s = result.seconds if result else (now - started if started else 0.0)
        size = f"{result.width}x{result.height}" if result else "-"
        self.metrics.job_ended(status, queue_s=queue_s, run_s=run_s)
        req, params = order.requester, order.params
        fields = {
            "id": job_id,
            "status": status,
            "user": req.user_id,
            "guild": req.guild_id,
            "source": order.source,
            "model": params.model,
            "layer": params.target,
            "size": size,
            "queue_s": round(queue_s, 3),
            "run_s": round(run_s, 3),
            "note": note,
        }
        log.info(
            "job %s %s user=%s guild=%s source=%s model=%s layer=%s size=%s "
            "queue=%.1fs run=%.1fs %s",
            job_id,
            status,
            req.user_id,
            req.guild_id,
            order.source,
            params.model,
            params.target,
            size,
            queue_s,
            run_s,
            note,
            extra={"job": fields},
        )


__all__ = ["DreamFlow", "DreamOrder", "Requester", "StatusLine"]
