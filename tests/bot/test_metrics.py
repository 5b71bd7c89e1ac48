"""Prometheus metrics: a registry per bot, pool gauges at scrape time, counters from real
dreams."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot.errors import QuotaExceeded
from bot.metrics import BotMetrics, refusal_reason
from bot.settings import HealthConfig
from dreamcore.pool import PoolStats


def stats(**values) -> PoolStats:
    base = dict(
        workers_total=2,
        workers_alive=2,
        workers_busy=1,
        queue_depth=3,
        jobs_done=0,
        jobs_failed=0,
        jobs_cancelled=0,
        jobs_timed_out=0,
        worker_restarts=4,
        mean_job_seconds=None,
    )
    return PoolStats(**{**base, **values})


class StubPool:
    def __init__(self, s: PoolStats) -> None:
        self.s = s

    def stats(self) -> PoolStats:
        return self.s


def samples(metrics: BotMetrics) -> dict[tuple[str, tuple], float]:
    body, _ = metrics.render()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }


def test_pool_gauges_are_read_at_scrape_time():
    pool = StubPool(stats())
    m = BotMetrics(pool=lambda: pool)
    got = samples(m)
    assert got[("dreambot_queue_depth", ())] == 3
    assert got[("dreambot_workers_alive", ())] == 2
    assert got[("dreambot_workers_busy", ())] == 1
    assert got[("dreambot_worker_restarts_total", ())] == 4
    pool.s = stats(workers_alive=0, workers_busy=0, queue_depth=0, worker_restarts=5)
    got = samples(m)
    assert (
        got[("dreambot_workers_alive", ())] == 0
        and got[("dreambot_worker_restarts_total", ())] == 5
    )


def test_no_pool_yet_reads_zero():
    got = samples(BotMetrics(pool=lambda: None))
    assert got[("dreambot_workers_alive", ())] == 0 and got[("dreambot_queue_depth", ())] == 0


def test_each_bot_has_its_own_registry():
    a, b = BotMetrics(), BotMetrics()  # would raise "Duplicated timeseries" on a shared registry
    a.job_ended("done", queue_s=0.5, run_s=3.0)
    a.job_ended("failed", queue_s=1.0, run_s=0.2)
    b.job_ended("cancelled", queue_s=2.0)
    ga, gb = samples(a), samples(b)
    assert ga[("dreambot_dreams_total", (("outcome", "done"),))] == 1
    assert ga[("dreambot_dreams_total", (("outcome", "failed"),))] == 1
    assert gb[("dreambot_dreams_total", (("outcome", "done"),))] == 0
    assert ga[("dreambot_dream_seconds_count", ())] == 1  # only completed dreams count as run time
    assert ga[("dreambot_dream_seconds_bucket", (("le", "5.0"),))] == 1
    assert ga[("dreambot_dream_seconds_bucket", (("le", "2.0"),))] == 0
    assert ga[("dreambot_dream_seconds_bucket", (("le", "1200.0"),))] == 1
    assert (
        ga[("dreambot_queue_wait_seconds_count", ())] == 2
        and gb[("dreambot_queue_wait_seconds_count", ())] == 1
    )


def test_refusal_reason_comes_from_the_error():
    assert refusal_reason(QuotaExceeded("no", "guild_daily")) == "guild_daily"
    assert refusal_reason(QuotaExceeded("no")) == "other"
    assert refusal_reason(QuotaExceeded("no", "made-up")) == "other"  # labels stay a known set
    assert refusal_reason(ValueError("x")) == "other"


def test_refused_counts_outcome_and_reason():
    m = BotMetrics()
    m.refused(QuotaExceeded("Slow down a little: you can dream again in 3 s.", "cooldown"))
    got = samples(m)
    assert got[("dreambot_dreams_total", (("outcome", "refused"),))] == 1
    assert got[("dreambot_quota_refusals_total", (("reason", "cooldown"),))] == 1
    assert got[("dreambot_queue_wait_seconds_count", ())] == 0


# --- end to end: a real dream, then a quota refusal, scraped over HTTP ----------------------------


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_metrics_after_a_real_dream_and_a_refusal(fake, pool, tmp_path):
    from tests.bot.conftest import RunningBot, dream, finished_result, make_settings, wait_ledger

    settings = make_settings(
        fake,
        tmp_path / "m.sqlite3",
        quota={"user_daily": 1},
        health=HealthConfig(enabled=True, port=0),
    )
    runner = RunningBot(fake, settings, pool)
    bot = await runner.start()
    try:
        assert bot.health is not None and bot.health.port > 0
        async with aiohttp.ClientSession() as http:
            alice = fake.add_member(name="alice")
            await finished_result(await dream(fake, alice))
            await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
            rec = await dream(fake, alice)
            await rec.wait_until(lambda r: (r.messages and r.messages[0]["content"]) or None, 20)
            async with http.get(f"{bot.health.url}/metrics") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == CONTENT_TYPE_LATEST
                text = await resp.text()
    finally:
        await runner.stop()
    assert 'dreambot_dreams_total{outcome="done"} 1.0' in text
    assert 'dreambot_dreams_total{outcome="refused"} 1.0' in text
    assert 'dreambot_dreams_total{outcome="failed"} 0.0' in text
    assert 'dreambot_quota_refusals_total{reason="user_daily"} 1.0' in text
    assert "dreambot_dream_seconds_count 1.0" in text
    assert 'dreambot_dream_seconds_bucket{le="+Inf"} 1.0' in text
    assert "dreambot_queue_wait_seconds_count 1.0" in text
    assert "dreambot_workers_alive 1.0" in text
    assert "dreambot_queue_depth 0.0" in text
    assert "dreambot_worker_restarts_total" in text
