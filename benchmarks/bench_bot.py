"""Bot under load: many users /dream at once through the loopback Discord; lag, latency, ledger.

    python benchmarks/bench_bot.py [--users 50] [--twice 5] [--workers 2] [--side 96]
                                   [--octaves 2] [--steps 3] [--abort-after 300]

One process: the FakeDiscord, the real DreamBot and a LocalPool of CPU workers with the random-init
`tiny` model. `--users` distinct members each send one /dream at the same moment; `--twice` of them
send a second one too, which the quota (user_daily=1) must refuse. Measured: the event loop's lag
(a 10 ms ticker on the bot's loop, which the fake shares), time to the first acknowledgement per
interaction, throughput and wall time. Verified (exit 1 if any check fails): every accepted request
got exactly one final reply with a file, every refused one exactly one refusal and no file;
ledger rows = accepted requests, `done` rows = delivered files, nobody charged more than
user_daily, nothing left reserved/running. Absolute times are noise on a shared 2-core machine.

Top-level imports stay light: spawned pool workers re-import this file as __mp_main__.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class LagMeter:
    """Sleeps `interval` in a loop and records how late each wake-up was."""

    def __init__(self, interval: float = 0.010) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.interval)
            self.lags.append(max(0.0, loop.time() - t0 - self.interval))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def ms(x: float) -> str:
    return f"{x * 1000:7.1f} ms"


def png(side: int, seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise((side, side), 40 + seed % 50).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


async def run(args: argparse.Namespace) -> int:
    from bot.client import DreamBot
    from bot.settings import (
        DiscordConfig,
        HealthConfig,
        IntakeConfig,
        QuotaConfig,
        Settings,
        StoreConfig,
    )
    from dreamcore.config import EngineConfig, PoolConfig
    from dreamcore.pool import LocalPool
    from localdiscord import FakeDiscord
    from localdiscord import carries_dream as has_file

    engine = EngineConfig(
        device="cpu",
        default_model="tiny",
        models=("tiny",),
        max_side_cap=256,
        model_plugins=("tests.tiny_model",),  # the tests' model, registered here and in workers
    )
    pool_cfg = PoolConfig(
        workers=args.workers,
        cpu_workers=args.workers,
        threads_per_worker=1,
        warm_models=("tiny",),
        queue_size=max(32, 2 * (args.users + args.twice)),
        job_timeout_s=120,
        start_timeout_s=120,
        shutdown_timeout_s=10,
        cancel_grace_s=2,
    )
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")
        if not ok:
            failures.append(what)

    tmp = tempfile.TemporaryDirectory(prefix="bench_bot-")
    t_setup = time.perf_counter()
    async with FakeDiscord(allow_message_content=True) as fake:
        settings = Settings(
            engine=engine,
            pool=pool_cfg,
            discord=DiscordConfig(
                api_base=fake.api_base,
                gateway_url=fake.gateway_url,
                progress_interval_s=args.progress_interval,
            ),
            store=StoreConfig(path=Path(tmp.name) / "bench.sqlite3"),
            quota=QuotaConfig(user_daily=1, user_concurrent=2),
            intake=IntakeConfig(allowed_hosts=("127.0.0.1",)),
            health=HealthConfig(enabled=False),
        )
        pool = LocalPool(pool_cfg, engine)
        await pool.start()
        bot = DreamBot(settings, backend=pool)
        bot_task = asyncio.create_task(bot.start(fake.token))
        try:
            async with asyncio.timeout(args.abort_after):
                ready = asyncio.create_task(bot.wait_until_ready())
                done, _ = await asyncio.wait(
                    {ready, bot_task}, timeout=60, return_when=asyncio.FIRST_COMPLETED
                )
                if ready not in done:
                    raise RuntimeError("bot did not become ready")
                print(
                    f"setup (pool of {args.workers} warm workers + bot ready): "
                    f"{time.perf_counter() - t_setup:.1f} s"
                )

                users = [fake.add_member(name=f"user{i}") for i in range(args.users)]
                images = {i: png(args.side, i) for i in range(args.users)}
                opts = {
                    "octaves": args.octaves,
                    "steps": args.steps,
                    "size": max(64, args.side),
                    "seed": 1,
                }
                orders = [(u, images[i]) for i, u in enumerate(users)]
                orders += [
                    (users[i], images[i]) for i in range(args.twice)
                ]  # these must be refused

                lag = LagMeter()
                lag.start()
                t0 = time.perf_counter()
                recs = await asyncio.gather(
                    *(
                        fake.slash_command(
                            "dream",
                            opts,
                            user=u,
                            attachments={"image": ("in.png", data, "image/png")},
                        )
                        for u, data in orders
                    )
                )

                def final(rec):
                    files = [m for m in rec.messages if has_file(m)]
                    if files:
                        return "file"
                    text = next((m.get("content") or "" for m in rec.messages), "")
                    return "refused" if "today" in text else None

                # Poll only the unanswered ones, every 20 ms: the fake's own wait_for re-checks on
                # every request, and reading 55 records' messages each time would itself lag the
                # loop.
                def answered_yet(rec) -> bool:  # reads the fake's state without copying it
                    ids = ([rec.original_id] if rec.original_id else []) + rec.followup_ids
                    raw = [fake.state.messages.get(mid) for mid in ids]
                    return any(
                        m and (m.get("attachments") or "today" in (m.get("content") or ""))
                        for m in raw
                    )

                pending = set(range(len(recs)))
                t_last = t0
                while pending:
                    await asyncio.sleep(0.02)
                    answered = {i for i in pending if answered_yet(recs[i])}
                    if answered:
                        t_last = time.perf_counter()
                        pending -= answered
                # ledger charges land just after the upload
                # the store has no event for it: poll
                while await bot.services.store.jobs(statuses=("reserved", "running")):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                await lag.stop()
                wall = t_last - t0

                # --- numbers -----------------------------------------------------------------
                acks = [r.ack_latency for r in recs if r.ack_latency is not None]
                outcomes = [final(r) for r in recs]
                delivered = outcomes.count("file")
                refused = outcomes.count("refused")
                print(
                    f"\n{len(recs)} requests from {args.users} users ({args.twice} sent twice), "
                    f"{args.workers} CPU workers, {args.side} px, "
                    f"{args.octaves} octaves x {args.steps} steps"
                )
                print(f"wall time (first send -> last answer): {wall:.2f} s")
                print(f"throughput: {delivered / wall:.2f} dreams/s ({delivered} dreams)")
                print(
                    f"event-loop lag (10 ms ticker, {len(lag.lags)} ticks): "
                    f"p50 {ms(pct(lag.lags, 50))}  "
                    f"p99 {ms(pct(lag.lags, 99))}  max {ms(max(lag.lags, default=0))}"
                )
                print(
                    f"first ack (defer) latency ({len(acks)} interactions): "
                    f"p50 {ms(pct(acks, 50))}  "
                    f"p99 {ms(pct(acks, 99))}  max {ms(max(acks, default=0))}"
                )
                stats = pool.stats()
                print(
                    f"pool: done {stats.jobs_done}, failed {stats.jobs_failed}, "
                    f"restarts {stats.worker_restarts}, "
                    f"mean job {stats.mean_job_seconds or 0:.2f} s"
                )

                # --- checks ------------------------------------------------------------------
                print("\nchecks:")
                rows = await bot.services.store.jobs(limit=100_000)
                by_status: dict[str, int] = {}
                for r in rows:
                    by_status[r.status] = by_status.get(r.status, 0) + 1
                print(f"  ledger: {len(rows)} rows {by_status}")
                check(len(acks) == len(recs), "every interaction was acknowledged")
                check(
                    all(r.ack_latency is not None and r.ack_latency < 3.0 for r in recs),
                    "every acknowledgement within Discord's 3 s",
                )
                check(delivered == args.users, f"each user got a dream ({delivered}/{args.users})")
                check(
                    refused == args.twice,
                    f"each second request was refused ({refused}/{args.twice})",
                )
                check(
                    all(
                        sum(has_file(m) for m in r.messages) == (1 if o == "file" else 0)
                        for r, o in zip(recs, outcomes, strict=True)
                    ),
                    "exactly one file per accepted request, none per refused one",
                )
                check(
                    all(
                        len([m for m in r.messages if m.get("content") and "today" in m["content"]])
                        == (1 if o == "refused" else 0)
                        for r, o in zip(recs, outcomes, strict=True)
                    ),
                    "exactly one refusal per refused request",
                )
                channel_files = [m for m in fake.messages_in() if has_file(m)]
                check(
                    len(channel_files) == delivered,
                    f"files in the channel = deliveries ({len(channel_files)}/{delivered}, "
                    "no duplicates)",
                )
                check(
                    len(rows) == delivered,
                    f"ledger rows = accepted requests ({len(rows)}/{delivered})",
                )
                done_rows = [r for r in rows if r.status == "done"]
                check(
                    len(done_rows) == delivered,
                    f"done rows = delivered files ({len(done_rows)}/{delivered})",
                )
                check(
                    all(r.cost == 1 for r in done_rows)
                    and not any(r.cost for r in rows if r.status != "done"),
                    "cost 1 exactly on done rows",
                )
                per_user: dict[int, int] = {}
                for r in done_rows:
                    per_user[r.user_id] = per_user.get(r.user_id, 0) + r.cost
                ids = {int(u["user"]["id"]) for u in users}
                check(
                    set(per_user) == ids and all(v == 1 for v in per_user.values()),
                    "each user charged exactly once (user_daily=1)",
                )
                guild_id = int(fake.guild["id"])
                quota_ok = True
                for uid in ids:
                    q = await bot.services.quota.status(user_id=uid, guild_id=guild_id, role_ids=[])
                    quota_ok &= q.used_today == 1 and q.in_flight == 0 and q.remaining == 0
                check(quota_ok, "quota status: used 1, in flight 0, remaining 0 for every user")
                check(
                    not [r for r in rows if r.status in ("reserved", "running")],
                    "nothing left reserved/running",
                )
                check(
                    stats.worker_restarts == 0 and stats.jobs_failed == 0,
                    "no worker crashed, no job failed",
                )
        except TimeoutError:
            failures.append(f"aborted after {args.abort_after} s")
            print(f"ABORTED after {args.abort_after} s\n" + fake.dump()[-3000:])
        finally:
            await bot.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bot_task, 15)
            await pool.close(10)
    tmp.cleanup()
    print(f"\n{'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'}")
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--twice", type=int, default=5, help="users who send a second /dream (refused)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--side", type=int, default=96)
    ap.add_argument("--octaves", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--progress-interval", type=float, default=2.0)
    ap.add_argument("--abort-after", type=float, default=300.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
