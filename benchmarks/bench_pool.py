"""Pool benchmark, local worker processes vs Ray actors, in one run:

  - per-job overhead: what the asyncio side waits (dispatch -> result) beyond the engine's own
    time, as a share of a 512-px dream; throughput with 1 and 2 workers vs the bare engine
  - event-loop lag (p50/p99) with 100 jobs in flight, every job's events consumed
  - a worker SIGKILLed mid-job: until its job fails, and until the next job starts on the
    replacement (a fresh process, or the actor Ray restarts)

    python benchmarks/bench_pool.py [--backends local,ray] [--dreams 6] [--rounds 3] [--side 512]

Runs the real Dreamer with the random-init `tiny` model on CPU, one torch thread per worker (and
for the in-process baseline), so "2 vs 1" measures adding a worker, not torch's threading under
other load. Prints ratios and percentiles measured in this one run (absolute times are noise on a
shared machine). Ray: a local Ray of its
own (temp dir and token of its own), shut down at the end. Top-level imports stay light: spawned
workers re-import this file as __mp_main__.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.request import DreamRequest, make_params

# the tests' `tiny` model (registered by tests/tiny_model.py, here and in the workers)
ENGINE = EngineConfig(device="cpu", models=("tiny",), model_plugins=("tests.tiny_model",))
CORES = os.cpu_count() or 1


def make_requests(
    n: int, side: int, steps: int, octaves: int, seed0: int = 0
) -> list[DreamRequest]:
    from PIL import Image

    requests = []
    for i in range(n):
        buf = io.BytesIO()
        Image.effect_noise((side, side * 3 // 4), 40 + i).convert("RGB").save(buf, "PNG")
        params = make_params(model="tiny", octaves=octaves, steps=steps, seed=seed0 + i)
        requests.append(DreamRequest(image=buf.getvalue(), params=params, preview=True))
    return requests


def make_dreamer():
    """The engine in this process, with the one thread a worker gets."""
    import torch

    from dreamcore.engine.dreamer import Dreamer

    torch.set_num_threads(1)
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

    def p(self, q: float) -> float:
        lags = sorted(self.lags) or [0.0]
        return lags[min(len(lags) - 1, int(q * len(lags)))] * 1000

    def summary(self) -> str:
        worst = max(self.lags or [0.0]) * 1000
        return (
            f"loop lag p50 {self.p(0.50):5.1f} ms  p99 {self.p(0.99):5.1f} ms  max {worst:5.1f} ms"
            f"  ({len(self.lags)} ticks)"
        )


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
        wall=wall,
        overhead=statistics.mean(overheads) / statistics.mean(inner),
        overhead_ms=statistics.mean(overheads) * 1000,
        progress=progress,
    )


def real_dream_seconds(side: int) -> float:
    """One 512-px dream as the bot makes it by default (inception5h, 4 octaves x 10 steps, a
    worker with every core): the time the issue's overhead target is a share of. Best of 2."""
    import torch
    from bench_common import dreamer_for  # here, not at the top: it imports torch

    threads = torch.get_num_threads()
    torch.set_num_threads(CORES)
    try:
        dreamer, _ = dreamer_for("inception5h")
        image = make_requests(1, side, 10, 4)[0].image
        request = DreamRequest(image=image, params=make_params(model="inception5h", seed=1))
        dreamer.run(request)  # warm: kernels for each octave size
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            dreamer.run(request)
            best = min(best, time.perf_counter() - t0)
        return best
    finally:
        torch.set_num_threads(threads)


async def idle_lag(seconds: float) -> LagMeter:
    with LagMeter() as lag:
        await asyncio.sleep(seconds)
    return lag


async def kill_and_recover(pool, request: DreamRequest, long: DreamRequest) -> tuple[float, float]:
    """SIGKILL the worker of a running job: seconds until that job fails, and until the next
    job (submitted at the kill) has started on a worker that is back."""
    job = pool.submit(long)
    async for event in job.events():
        if event.kind == "progress":
            break
    os.kill(job.worker_pid, signal.SIGKILL)
    t0 = time.perf_counter()
    nxt = pool.submit(request)
    await job.wait_finished()
    failed = time.perf_counter() - t0
    async for event in nxt.events():
        if event.kind == "started" and nxt.worker_pid != job.worker_pid:
            break
    started = time.perf_counter() - t0
    await nxt.result()
    return failed, started


def start_ray() -> str:
    """A local Ray of this benchmark's own: its temp dir (returned) and token, no usage stats."""
    os.environ.update(
        RAY_USAGE_STATS_ENABLED="0",
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(16),
        RAY_worker_niceness="0",  # Ray nices workers to 15; local workers run at 0: compare alike
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # on Linux: nodes on 127.0.0.1 (one machine here)
    )
    import ray

    # Logical CPUs only count reservations: 4x the cores lets the 1- and 2-actor pools (and the
    # restarted actor) coexist, each actor with the one thread its local twin has.
    tmp = tempfile.mkdtemp(prefix="dbbench")
    ray.init(
        address="local",
        num_cpus=4 * CORES,
        include_dashboard=False,
        _temp_dir=tmp,
        log_to_driver=False,
    )
    return tmp


def config(backend: str, workers: int, queue: int) -> PoolConfig:
    return PoolConfig(
        backend=backend,
        workers=workers,
        threads_per_worker=1,
        warm_models=("tiny",),
        queue_size=queue,
        cancel_grace_s=2.0,
    )


def med(values) -> float:
    return statistics.median(list(values))


async def bench(args: argparse.Namespace) -> None:
    from dreamcore.pool import make_backend

    requests = make_requests(args.dreams, args.side, args.steps, args.octaves)
    small = make_requests(args.inflight, 96, 3, 2, seed0=1000)
    long = make_requests(1, args.side, 100, args.octaves, seed0=2000)[0]
    backends = args.backends.split(",")
    ray_tmp = start_ray() if "ray" in backends else None
    dreamer = make_dreamer()
    dreamer.run(requests[0], None, None)  # warm-up, like a warm worker
    print(f"idle event loop      : {(await idle_lag(2.0)).summary()}")
    n, queue = len(requests), max(args.inflight, len(requests)) + 1
    pools = {(b, k): make_backend(config(b, k, queue), ENGINE) for b in backends for k in (1, 2)}
    for pool in pools.values():
        await pool.start()
    try:
        for pool in pools.values():  # warm-up
            await asyncio.gather(*(pool.submit(requests[0]).result() for _ in range(2)))
        lags = {key: LagMeter() for key in pools}
        rows: list[dict] = []
        for _ in range(args.rounds):  # interleaved: the machine's other load hits all alike
            row: dict = {"direct": run_direct(dreamer, requests)}
            for key, pool in pools.items():
                row[key] = await run_batch(pool, requests, lags[key])
            rows.append(row)
        inflight = {}
        for b in backends:
            lag = LagMeter()
            await run_batch(pools[(b, 2)], small, lag)
            inflight[b] = lag
        recover = {b: await kill_and_recover(pools[(b, 1)], requests[0], long) for b in backends}
    finally:
        for pool in pools.values():
            await pool.close(timeout=5)

    per_dream = med(r["direct"] for r in rows) / n
    print(
        f"direct (in-process)  : {n / med(r['direct'] for r in rows):6.2f} dreams/s"
        f"  ({per_dream:.2f} s per {args.side}-px dream)"
    )
    for key in pools:
        b, k = key
        ratio = med(r["direct"] / r[key]["wall"] for r in rows)
        print(
            f"{b:5} {k} worker{'s' if k > 1 else ' '}      : "
            f"{n / med(r[key]['wall'] for r in rows):6.2f} dreams/s = {ratio:4.2f}x direct;"
            f"  overhead {med(r[key]['overhead'] for r in rows) * 100:+5.2f}% of a dream"
            f" ({med(r[key]['overhead_ms'] for r in rows):5.1f} ms/job);"
            f"  {rows[-1][key]['progress']} progress events/batch"
        )
        print(f"                       {lags[key].summary()}")
    for b in backends:
        speedup = med(r[(b, 1)]["wall"] / r[(b, 2)]["wall"] for r in rows)
        print(
            f"{b:5} 2 vs 1 worker    : {speedup:4.2f}x throughput (median of {args.rounds} rounds)"
        )
    for b in backends:
        print(f"{b:5} {args.inflight} jobs in flight: {inflight[b].summary()}  (2 workers)")
    for b in backends:
        failed, started = recover[b]
        print(
            f"{b:5} SIGKILL mid-job  : job failed after {failed:4.2f} s;"
            f" next job started on the replacement after {started:4.2f} s"
        )
    if "ray" in backends and "local" in backends:
        extra = med(r[("ray", 1)]["overhead_ms"] - r[("local", 1)]["overhead_ms"] for r in rows)
        print(
            f"ray vs local         : {extra:+.1f} ms per job = {extra / 10 / per_dream:+.2f}%"
            f" of this benchmark's tiny {args.side}-px dream"
        )
        real = real_dream_seconds(args.side)
        print(
            f"                       = {extra / 10 / real:+.2f}% of a default {args.side}-px"
            f" dream (inception5h 4x10 here: {real:.2f} s; target < 2%)"
        )
    if ray_tmp is not None:
        import ray

        ray.shutdown()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backends", default="local,ray", help="comma-separated: local, ray")
    ap.add_argument("--dreams", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--octaves", type=int, default=3)
    ap.add_argument("--inflight", type=int, default=100)
    args = ap.parse_args()
    print(
        f"{args.dreams} dreams x {args.rounds} rounds, tiny model, {args.side}px, {args.octaves}"
        f" octaves x {args.steps} steps; {CORES} CPUs; backends {args.backends}"
    )
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
