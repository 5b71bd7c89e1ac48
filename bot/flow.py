"""One dream job from accepted order to answered user: reserve, queue, progress, deliver, charge.

Every way of asking (slash command, button, reaction, context menu) ends here, so quota, progress
throttling, the upload-limit retry, refunds and the per-job log line exist once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import discord

from bot.delivery import Answer, Upload, is_too_large
from bot.errors import user_message
from bot.metrics import BotMetrics
from bot.replies import progress_text, queued_text, result_embed, result_filename, starting_text
from bot.views import result_view
from dreamcore.errors import DreamCancelled, DreamError, PoolClosed
from dreamcore.request import DreamParams, DreamRequest, DreamResult

log = logging.getLogger(__name__)
MIN_UPLOAD_BYTES = 8 * 1024  # below this an image is not worth sending


@dataclass(frozen=True)
class Requester:
    user_id: int
    guild_id: int | None
    channel_id: int
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class DreamOrder:
    requester: Requester
    image: bytes
    params: DreamParams
    source: str  # slash | context | reaction | button (the ledger's Source)
    input_url: str | None = None  # shown as the "before" thumbnail; Re-roll dreams it again


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


class Throttle:
    """Lets an action through at most once per `interval` seconds."""

    def __init__(self, interval: float, clock=time.monotonic) -> None:
        self.interval, self._clock, self._last = interval, clock, float("-inf")

    def ready(self) -> bool:
        now = self._clock()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True


class DreamFlow:
    def __init__(
        self,
        *,
        pool: Any,
        quota: Any,
        progress_interval_s: float,
        clock=time.monotonic,
        metrics: BotMetrics | None = None,
    ) -> None:
        self.pool = pool
        self.quota = quota
        self.metrics = metrics if metrics is not None else BotMetrics()
        self.progress_interval_s = progress_interval_s
        self._clock = clock

    async def run(self, order: DreamOrder, answer: Answer) -> DreamResult | None:
        """Run one order to the end; never raises (the user is always told, the ledger settled)."""
        job_id = new_job_id()
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
        except DreamError as err:
            self.metrics.refused(err)
            await answer.fail(user_message(err))
            return None
        except Exception as err:  # noqa: BLE001 - the store failing must not leave the user waiting
            log.exception("job %s: quota reserve failed", job_id)
            self.metrics.job_ended("failed")
            await answer.fail(user_message(err, job_id=job_id))
            return None
        try:
            return await self._run_reserved(job_id, order, answer)
        except asyncio.CancelledError:
            await self._refund(job_id, "cancelled", "bot shutting down")
            raise

    async def _run_reserved(
        self, job_id: str, order: DreamOrder, answer: Answer
    ) -> DreamResult | None:
        accepted = self._clock()
        started: float | None = None
        request = DreamRequest(
            image=order.image,
            params=order.params,
            output_max_bytes=max(MIN_UPLOAD_BYTES, answer.upload_limit),
            preview=True,  # a small JPEG at the end of each octave, shown under the progress bar
        )
        job = None
        try:
            job = self.pool.submit(request, job_id=job_id)
            throttle = Throttle(self.progress_interval_s, self._clock)
            preview: bytes | None = None
            async for event in job.events():
                if event.kind == "queued" and event.position and throttle.ready():
                    await answer.status(queued_text(event.position))
                elif event.kind == "started":
                    started = self._clock()
                    await self.quota.mark_running(job_id)
                    if throttle.ready():
                        await answer.status(starting_text())
                elif event.kind == "progress" and event.progress:
                    preview = event.progress.preview or preview
                    if throttle.ready():
                        await answer.status(progress_text(event.progress), preview)
                        preview = None  # shown; attach again only when a newer one arrives
            result = await job.result()
            finished = self._clock()
            queue_s = (started or finished) - accepted
            embed = result_embed(
                result,
                order.params,
                requester_id=order.requester.user_id,
                job_id=job_id,
                queue_s=queue_s,
                input_url=order.input_url,
            )
            upload = Upload(
                result.image, result_filename(result), embed, result_view(order.requester.user_id)
            )
            await self._deliver(upload, answer, result)
            await self.quota.charge(job_id, queue_s=queue_s, run_s=result.seconds)
        except asyncio.CancelledError:
            if job is not None:
                job.cancel()  # nobody will read the result: free the worker
            self._log_end(job_id, order, "cancelled", accepted, started, note="bot shutting down")
            raise
        except DreamError as err:
            # refused at shutdown (PoolClosed) counts as cancelled: the user did nothing wrong
            status = "cancelled" if isinstance(err, DreamCancelled | PoolClosed) else "failed"
            await self._refund(job_id, status, err.code)
            self._log_end(job_id, order, status, accepted, started, note=err.code)
            await answer.fail(user_message(err, job_id=job_id))
            return None
        except Exception as err:  # noqa: BLE001 - log with the id; the user gets the id to quote
            log.exception("job %s: unexpected error", job_id)
            self._log_end(job_id, order, "failed", accepted, started, note="unexpected")
            await self._refund(job_id, "failed", repr(err)[:200])
            await answer.fail(user_message(err, job_id=job_id))
            return None
        self._log_end(job_id, order, "done", accepted, started, result=result)
        return result

    async def _deliver(self, upload: Upload, answer: Answer, result: DreamResult) -> None:
        """Post the result; on 413 re-encode once below half the limit and try again."""
        try:
            await answer.deliver(upload)
        except discord.HTTPException as err:
            if not is_too_large(err):
                raise
            limit = max(MIN_UPLOAD_BYTES, min(answer.upload_limit, len(upload.data)) // 2)
            log.info(
                "upload of %d bytes refused (413); re-encoding below %d", len(upload.data), limit
            )
            data, fmt = await asyncio.to_thread(reencode, upload.data, limit)
            upload.data, upload.filename = data, f"dream.{'jpg' if fmt == 'jpeg' else fmt}"
            upload.embed.set_image(url=f"attachment://{upload.filename}")
            try:
                await answer.deliver(upload)
            except discord.HTTPException as again:
                if is_too_large(again):
                    raise DreamError(
                        "The dream came out too large to upload here; try a smaller size."
                    ) from None
                raise

    async def _refund(self, job_id: str, status: str, error: str) -> None:
        try:
            await self.quota.refund(job_id, status=status, error=error)
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
        """The job's one log line (with the same fields structured, for JSON logs) and its metrics."""
        now = self._clock()
        queue_s = (started or now) - accepted
        run_s = result.seconds if result else (now - started if started else 0.0)
        size = f"{result.width}x{result.height}" if result else "-"
        self.metrics.job_ended(status, queue_s=queue_s, run_s=run_s)
        fields = {
            "id": job_id,
            "status": status,
            "user": order.requester.user_id,
            "guild": order.requester.guild_id,
            "source": order.source,
            "model": order.params.model,
            "layer": order.params.target,
            "size": size,
            "queue_s": round(queue_s, 3),
            "run_s": round(run_s, 3),
            "note": note,
        }
        log.info(
            "job %s %s user=%s guild=%s source=%s model=%s layer=%s size=%s queue=%.1fs run=%.1fs %s",
            job_id,
            status,
            order.requester.user_id,
            order.requester.guild_id,
            order.source,
            order.params.model,
            order.params.target,
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
