"""One dream job from accepted order to answered user: reserve, queue, progress, deliver, charge.

Every way of asking (slash command, button, reaction, context menu) ends here, so quota, progress
throttling, the upload-limit retry, refunds and the per-job log line exist once. `DreamFlow` also
owns the jobs' tasks, so shutdown can let them finish (`drain`) or cancel them (`close`).

Rules: `run` never raises (the user is always told, the ledger settled); any way out of a job
that did not finish cancels it in the backend (nobody would read the result); once a dream is
delivered it is never taken back, and a charge that fails is retried in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import discord

from bot.delivery import Answer, Upload, is_too_large
from bot.errors import user_message
from bot.intake import HeldImage
from bot.metrics import BotMetrics
from bot.quota import QuotaService
from bot.replies import (
    GUIDE_NAME,
    SOURCE_NAME,
    progress_text,
    queued_text,
    result_embed,
    result_filename,
    starting_text,
)
from bot.store import Source
from dreamcore.errors import DreamCancelled, DreamError, PoolClosed
from dreamcore.imaging import file_extension
from dreamcore.pool import DreamBackend, Job, new_job_id
from dreamcore.request import DreamParams, DreamRequest, DreamResult

log = logging.getLogger(__name__)
MIN_UPLOAD_BYTES = 8 * 1024  # below this an image is not worth sending
CHARGE_RETRIES_S = (1, 5, 15, 60, 300)  # a failed charge is tried again after these waits


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

    def release(self) -> None:
        """Give the images' bytes back to the intake's budget."""
        self.image.release()
        if self.guide is not None:
            self.guide.release()

    @property
    def extras(self) -> tuple[tuple[str, bytes], ...]:
        """Posted beside the dream: its source, and its guide (buttons dream them again)."""
        source = ((SOURCE_NAME, self.image.source),)
        return source + (((GUIDE_NAME, self.guide.source),) if self.guide else ())


class StatusLine:
    """At most one status edit per `interval`, and the newest one always shows: an update that
    arrives too soon is sent when the interval is over (so the last progress and its preview
    appear even if the job then goes quiet for a while)."""

    def __init__(self, answer: Answer, interval: float, clock=time.monotonic) -> None:
        self._answer, self._interval, self._clock = answer, interval, clock
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
            await self._answer.status(text, preview)
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
        buttons: Callable[[int], discord.ui.View],
        clock=time.monotonic,
    ) -> None:
        self.backend = backend
        self.buttons = buttons  # the view under a result, for its requester
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
        task = asyncio.create_task(coro, name=f"dream-{order.source}")
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
        extras = order.extras
        request = DreamRequest(
            image=order.image.data,
            params=order.params,
            guide=order.guide.data if order.guide else None,
            output_max_bytes=max(
                MIN_UPLOAD_BYTES, answer.upload_limit - sum(len(d) for _, d in extras)
            ),
            preview=True,  # a small JPEG at the end of each octave, shown under the progress bar
        )
        job: Job | None = None
        status = StatusLine(answer, self.progress_interval_s, self._clock)
        try:
            job = self.backend.submit(request, job_id=job_id)
            async for event in job.events():
                if event.kind == "queued" and event.position:
                    status.show(queued_text(event.position))
                elif event.kind == "started":
                    started = self._clock()
                    status.show(starting_text())
                    await self.quota.mark_running(job_id)
                elif event.kind == "progress" and event.progress:
                    status.show(progress_text(event.progress), event.progress.preview)
            result = await job.result()
            await status.close()
            queue_s = (started or self._clock()) - accepted
            embed = result_embed(
                result,
                order.params,
                requester_id=order.requester.user_id,
                job_id=job_id,
                queue_s=queue_s,
                with_source=True,
                notes=order.notes,
            )
            view = self.buttons(order.requester.user_id)
            upload = Upload(result.image, result_filename(result), embed, view, extras)
            await self._deliver(upload, answer)
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
            if job is not None and not job.finished:
                job.cancel()  # nobody will read the result: free the worker
        # Delivered: from here on nothing takes the dream back.
        await self._charge(job_id, queue_s=queue_s, run_s=result.seconds)
        self._log_end(job_id, order, "done", accepted, started, result=result)
        return result

    async def _deliver(self, upload: Upload, answer: Answer) -> None:
        """Post the result; on 413 re-encode once below half the limit and try again."""
        try:
            await answer.deliver(upload)
        except discord.HTTPException as err:
            if not is_too_large(err):
                raise
            limit = max(MIN_UPLOAD_BYTES, min(answer.upload_limit, len(upload.data)) // 2)
            limit -= upload.extras_size
            log.info(
                "upload of %d bytes refused (413); re-encoding below %d", len(upload.data), limit
            )
            data, fmt = await asyncio.to_thread(reencode, upload.data, max(1024, limit))
            upload.data, upload.filename = data, f"dream.{file_extension(fmt)}"
            upload.embed.set_image(url=f"attachment://{upload.filename}")
            try:
                await answer.deliver(upload)
            except discord.HTTPException as again:
                if is_too_large(again):
                    raise DreamError(
                        "The dream came out too large to upload here; try a smaller size."
                    ) from None
                raise

    async def _charge(self, job_id: str, *, queue_s: float, run_s: float) -> None:
        try:
            await self.quota.charge(job_id, queue_s=queue_s, run_s=run_s)
        except Exception:  # noqa: BLE001 - the dream stands; settle the ledger later
            log.exception("job %s: charge failed; retrying in the background", job_id)
            task = asyncio.create_task(self._charge_later(job_id, queue_s, run_s))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _charge_later(self, job_id: str, queue_s: float, run_s: float) -> None:
        for wait in CHARGE_RETRIES_S:
            await asyncio.sleep(wait)
            try:
                await self.quota.charge(job_id, queue_s=queue_s, run_s=run_s)
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


def reencode(data: bytes, max_bytes: int) -> tuple[bytes, str]:
    """Shrink an already-dreamed image to fit max_bytes (Pillow only; run in a thread)."""
    from dreamcore.imaging import decode_image, encode_image

    decoded = decode_image(data, max_side=16384, max_pixels=10**9, min_side=1)
    return encode_image(decoded.rgb, decoded.alpha, max_bytes=max_bytes)


__all__ = ["DreamFlow", "DreamOrder", "Requester", "StatusLine", "reencode"]
