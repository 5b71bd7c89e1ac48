"""Each job's one log line when it ends (the same fields structured, for JSON logs), and its
metrics."""

from __future__ import annotations

import logging

from bot.metrics import BotMetrics
from bot.order import Order
from dreamcore.request import DreamResult

log = logging.getLogger(__name__)


def job_ended(
    metrics: BotMetrics,
    job_id: str,
    order: Order,
    status: str,
    *,
    queue_s: float,
    run_s: float,
    result: DreamResult | None = None,
    note: str = "",
) -> None:
    size = f"{result.width}x{result.height}" if result else "-"
    metrics.job_ended(status, queue_s=queue_s, run_s=run_s)
    who, params = order.requester, order.params
    fields = {
        "id": job_id,
        "status": status,
        "user": who.user_id,
        "guild": who.guild_id,
        "source": order.source,
        "model": params.model,
        "layer": params.target,
        "size": size,
        "queue_s": round(queue_s, 3),
        "run_s": round(run_s, 3),
        "note": note,
    }
    log.info(
        "job %s %s user=%s guild=%s source=%s model=%s layer=%s size=%s queue=%.1fs run=%.1fs %s",
        job_id,
        status,
        who.user_id,
        who.guild_id,
        order.source,
        params.model,
        params.target,
        size,
        queue_s,
        run_s,
        note,
        extra={"job": fields},
    )
