"""Pool benchmark: event-loop lag while dreams run, and pool throughput against the bare engine.

    python benchmarks/bench_pool.py [--dreams 6] [--rounds 3] [--side 448] [--steps 10] [--octaves 3]

Runs the real Dreamer with the random-init `tiny` model on CPU. Prints ratios measured in this one
run (absolute times are noise on a shared machine). Top-level imports stay light: spawned workers
re-import this file as __mp_main__.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dreamcore.config import EngineConfig, PoolConfig  # noqa: E402
from dreamcore.request import DreamRequest, make_params  # noqa: E402

ENGINE = EngineConfig(device="cpu", models=("tiny",))


def make_requests(n: int, side: int, steps: int, octaves: int) -> list[DreamRequest]:
    from PIL import Image

    requests = []
    for i in range(n):
        buf = io.BytesIO()
        Image.effect_noise((side, side * 3 // 4), 40 + i).convert("RGB").save(buf, "PNG")
        params = make_params(model="tiny", octaves=octaves, steps=steps, seed=i)
        requests.append(DreamRequest(image=buf.getvalue(), params=params))
    return requests


def make_dreamer():
    """The engine in this process, with the threads a single worker would get."""
    import torch

    from dreamcore.engine.dreamer import Dreamer

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    dreamer = Dreamer(ENGINE)
    dreamer.warm(["tiny"])
    return dreamer


def run_direct(dreamer, requests: list[DreamRequest]) -> float:
    t0 = time.perf_counter()
    for r in requests:
        dreamer.run(r, None, None)
    return time.perf_counter() - t0


class LagMeter:
    """A 10 ms ticker; lag = how late each tick woke up."""

    def __init__(self, period: float = 0.010) -> None:
        self.period, self.lags = period, []
        self._task: asyncio.Task | None = None

    async def _tick(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(time.perf_counter() - t0 - self.period)

    def __enter__(self) -> LagMeter:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def summary(self) -> str:
        lags = sorted(self.lags) or [0.0]
        p = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] * 1000  # noqa: E731
        return f"loop lag p50 {p(0.50):5.1f} ms  p99 {p(0.99):5.1f} ms  max {lags[-1] * 1000:5.1f} ms  ({len(lags)} ticks)"


async def run_batch(pool, requests: list[DreamRequest], lag: LagMeter) -> dict:
    loop = asyncio.get_running_loop()
    progress, overheads, inner = 0, [], []

    async def drain(job) -> None:
        nonlocal progress
        async for event in job.events():
            progress += event.kind == "progress"
        result = await job.result()
        # What the parent saw (dispatch -> result) minus what the engine spent inside the worker.
        overheads.append(loop.time() - job.started_at - result.seconds)
        inner.append(result.seconds)

    with lag:
        t0 = time.perf_counter()
        await asyncio.gather(*(drain(pool.submit(r)) for r in requests))
        wall = time.perf_counter() - t0
    return dict(
        wall=wall, overhead=statistics.mean(overheads) / statistics.mean(inner), progress=progress
    )


async def idle_lag(seconds: float) -> LagMeter:
    with LagMeter() as lag:
        await asyncio.sleep(seconds)
    return lag


async def bench(requests: list[DreamRequest], rounds: int) -> None:
    from dreamcore.pool import LocalPool

    dreamer = make_dreamer()
    dreamer.run(requests[0], None, None)  # warm-up, like a warm worker
    idle = await idle_lag(2.0)
    print(f"idle event loop      : {idle.summary()}")
    n = len(requests)
    configs = {k: PoolConfig(workers=k, warm_models=("tiny",), queue_size=n + 1) for k in (1, 2)}
    async with LocalPool(configs[1], ENGINE) as one, LocalPool(configs[2], ENGINE) as two:
        pools = {1: one, 2: two}
        for pool in pools.values():
            await asyncio.gather(*(pool.submit(requests[0]).result() for _ in range(2)))  # warm-up
        lags = {k: LagMeter() for k in pools}
        rows: list[dict] = []
        for _ in range(rounds):  # interleaved, so the machine's other load hits every variant alike
            row = {"direct": run_direct(dreamer, requests)}
            for k, pool in pools.items():
                row[k] = await run_batch(pool, requests, lags[k])
            rows.append(row)

    def med(values) -> float:
        return statistics.median(list(values))

    direct_rate = n / med(r["direct"] for r in rows)
    print(
        f"direct (in-process)  : {direct_rate:6.2f} dreams/s  ({med(r['direct'] for r in rows) / n:.2f} s/dream)"
    )
    for k in pools:
        ratio = med(r["direct"] / r[k]["wall"] for r in rows)
        overhead = med(r[k]["overhead"] for r in rows) * 100
        print(
            f"pool, {k} worker{'s' if k > 1 else ' '}      : {n / med(r[k]['wall'] for r in rows):6.2f} dreams/s"
            f" = {ratio:4.2f}x direct;  overhead {overhead:+5.1f}% of dream time per job;"
            f"  {rows[-1][k]['progress']} progress events/batch"
        )
        print(f"                       {lags[k].summary()}")
    print(
        f"2 workers vs 1       : {med(r[1]['wall'] / r[2]['wall'] for r in rows):4.2f}x throughput"
        f"  (median of {rounds} interleaved rounds)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dreams", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--side", type=int, default=448)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--octaves", type=int, default=3)
    args = ap.parse_args()
    requests = make_requests(args.dreams, args.side, args.steps, args.octaves)
    print(
        f"{args.dreams} dreams x {args.rounds} rounds, tiny model, {args.side}px, {args.octaves} octaves x "
        f"{args.steps} steps; {os.cpu_count()} CPUs"
    )
    asyncio.run(bench(requests, args.rounds))


if __name__ == "__main__":
    main()
