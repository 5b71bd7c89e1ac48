"""Prometheus metrics, one `CollectorRegistry` per bot (never the global one).

Each job's log line calls `job_ended` (bot/joblog.py), the reception and the flow call `refused`;
pool gauges are read from `pool.stats()` at scrape time.

    dreambot_dreams_total{outcome="done|failed|cancelled|refused"}   counter
    dreambot_dream_seconds                                  histogram (run time of done dreams)
    dreambot_queue_wait_seconds                                      histogram (accepted -> started)
    dreambot_quota_refusals_total{reason=...}                        counter
    dreambot_queue_depth, dreambot_workers_alive, dreambot_workers_busy   gauges (pool.stats())
    dreambot_worker_restarts_total                                   counter (pool.stats())
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bot.errors import QuotaExceeded

log = logging.getLogger(__name__)

OUTCOMES = ("done", "failed", "cancelled", "refused")
DREAM_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200)
WAIT_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200)
REASONS = QuotaExceeded.REASONS


def refusal_reason(err: BaseException) -> str:
    reason = getattr(err, "reason", "other")
    return reason if reason in REASONS else "other"


class PoolCollector:
    """Reads `stats()` of the current pool (the getter may return None before it exists)."""

    def __init__(self, pool: Callable[[], Any]) -> None:
        self._pool = pool

    def describe(self) -> list[Metric]:
        return list(self._families(None))

    def collect(self) -> Iterator[Metric]:
        stats = None
        pool = self._pool()
        if pool is not None:
            try:
                stats = pool.stats()
            except Exception:  # a scrape must not fail
                log.exception("pool.stats() failed")
        return self._families(stats)

    @staticmethod
    def _families(stats: Any) -> Iterator[Metric]:
        def value(name: str) -> float:
            return float(getattr(stats, name, 0) or 0) if stats is not None else 0.0

        yield GaugeMetricFamily(
            "dreambot_queue_depth", "Jobs waiting for a worker.", value=value("queue_depth")
        )
        yield GaugeMetricFamily(
            "dreambot_workers_alive",
            "Worker processes alive (idle or busy).",
            value=value("workers_alive"),
        )
        yield GaugeMetricFamily(
            "dreambot_workers_busy", "Workers running a job.", value=value("workers_busy")
        )
        yield CounterMetricFamily(
            "dreambot_worker_restarts",
            "Workers replaced after dying.",
            value=value("worker_restarts"),
        )


class BotMetrics:
    def __init__(self, pool: Callable[[], Any] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.dreams = Counter(
            "dreambot_dreams", "Dream jobs by how they ended.", ["outcome"], registry=r
        )
        self.dream_seconds = Histogram(
            "dreambot_dream_seconds",
            "Run time of completed dreams.",
            buckets=DREAM_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "dreambot_queue_wait_seconds",
            "Time from accepted to started (or ended).",
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.quota_refusals = Counter(
            "dreambot_quota_refusals", "Dreams refused by a quota.", ["reason"], registry=r
        )
        for outcome in OUTCOMES:  # show zeros from the start: rate() needs the series to exist
            self.dreams.labels(outcome)
        for reason in REASONS:
            self.quota_refusals.labels(reason)
        if pool is not None:
            r.register(PoolCollector(pool))

    def job_ended(
        self, outcome: str, *, queue_s: float | None = None, run_s: float | None = None
    ) -> None:
        self.dreams.labels(outcome).inc()
        if queue_s is not None:
            self.queue_wait.observe(max(0.0, queue_s))
        if outcome == "done" and run_s is not None:
            self.dream_seconds.observe(max(0.0, run_s))

    def refused(self, err: BaseException) -> None:
        """A job refused before it was accepted (quota)."""
        self.dreams.labels("refused").inc()
        self.quota_refusals.labels(refusal_reason(err)).inc()

    def render(self) -> tuple[bytes, str]:
        """(body, content type) for GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
