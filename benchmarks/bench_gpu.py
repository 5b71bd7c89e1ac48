"""GPU serving benchmark, all figures from one run (issue 20's table, measured again):

  1. a lone dream (512 px, 4 octaves x 1.4, 10 steps): the tutorial loop (whole net, hook,
     fp32), the engine as it was (no batching, fp32 and the old fp16 autocast default), the
     engine as it is now (auto: measured precision, the batcher's padded path)
  2. one gradient step per image at batch 1/4/16/32 in fp32, bf16, fp16, and peak memory
  3. dreams/s through the real pool, 32 dreams in flight of 8 photo sizes (448-672 px): one
     dream per worker (the old default), four such workers, one worker holding 16 (batching);
     then the same dreams on 16 threads of one engine, batch_bucket 64 and 128 (the batches seen)
  4. fidelity on the trained vgg16-hed: the fast path (auto) against fp32, beside another seed
  5. CUDA graphs against eager, side by side: one gradient step at batch 1 and 16, a lone dream
     (on the CPU: eager only, graphs reported as not available)

    bash .gpu/env.sh python3 benchmarks/bench_gpu.py                  # on the GPU machine
    python benchmarks/bench_gpu.py --device cpu --quick               # a smoke run on the CPU

Networks without weights on the machine run with random ones (speed does not depend on them).
Times are medians of --repeats after a warm-up; ratios are against baselines of this same run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from bench_common import PHOTO, OfflineDreamer
from bench_dream import NaiveGradient, baseline_net
from PIL import Image

from dreamcore.catalog import model_info
from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.engine.batching import BatchStats, batched_gradients
from dreamcore.engine.deepdream import dream
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.graphs import GraphCache
from dreamcore.engine.objectives import LayerObjective
from dreamcore.request import DreamRequest, make_params

HANDLER = "bench_common:OfflineDreamer"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` runs, after one warm-up."""
    fn()
    sync(device)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def photo_bytes(side: int, aspect: float = 0.75) -> bytes:
    im = Image.open(PHOTO).convert("RGB").resize((side, round(side * aspect)), Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def engine(device: str, **values) -> OfflineDreamer:
    return OfflineDreamer(EngineConfig(device=device, offline=True, **values))


# --- 1. a lone dream ----------------------------------------------------------------------------


def lone_dream(args, model: str) -> None:
    layer = model_info(model).default_layer
    side = args.side
    params = make_params(model=model, layer=layer, seed=1, max_side=side, **args.schedule)
    request = DreamRequest(image=photo_bytes(side), params=params)
    rows = []
    tutorial_net = baseline_net(model).to(args.device)
    deepest = tutorial_net.layer_names()[-1]
    tutorial = NaiveGradient(tutorial_net, layer, deepest)
    pixels = (
        torch.from_numpy(
            np.asarray(Image.open(io.BytesIO(request.image)).convert("RGB"), dtype=np.float32)
        )
        .permute(2, 0, 1)[None]
        .to(args.device)
    )  # 1 x 3 x H x W

    def run_tutorial() -> None:
        dream(pixels, tutorial, params, generator=torch.Generator().manual_seed(1))

    rows.append(
        ("tutorial loop (whole net, hook, fp32)", timed(run_tutorial, args.device, args.repeats))
    )
    variants = [
        ("engine, no batching, fp32", dict(batching="off", precision="fp32")),
        (
            "engine, no batching, fp16 autocast (the old auto)",
            dict(batching="off", precision="fp16"),
        ),
        ("engine now, auto", dict()),
    ]
    if not args.device.startswith("cuda"):
        variants = [v for v in variants if "fp16" not in v[0]]
    for name, values in variants:
        dreamer = engine(args.device, models=(model,), **values)
        dreamer.model(model)
        rows.append((name, timed(lambda d=dreamer: d.run(request), args.device, args.repeats)))
        if not values:
            lone_now = rows[-1][1]
            path = "batcher" if dreamer.batcher else "no batching"
            label = f"engine now, auto [{dreamer.placement_of(model).precision}, {path}]"
            rows[-1] = (label, rows[-1][1])
    base = rows[0][1]
    schedule = "{octaves} octaves x {steps} steps".format(**args.schedule)
    print(f"\n1. lone dream, {model} {layer}, {side} px, {schedule} ({args.device})")
    for name, seconds in rows:
        print(f"   {name:58s} {seconds:7.3f} s   {base / seconds:5.2f}x the tutorial loop")
    measured(args, "lone", model, lone_now)


# --- 2. one step per image, by batch and precision --------------------------------------------


def step_table(args, model: str) -> None:
    layer = model_info(model).default_layer
    dreamer = engine(args.device, models=(model,), precision="fp32")
    net = dreamer.model(model)
    h, w = round(args.side * 0.75), args.side
    batches = (1, 4) if args.quick else (1, 4, 16, 32)
    precisions = (
        ("fp32", "bf16") if not args.device.startswith("cuda") else ("fp32", "bf16", "fp16")
    )
    print(f"\n2. one gradient step, ms per image ({model} {layer}, {w}x{h}; peak MiB)")
    print("   batch " + "".join(f"{p:>18s}" for p in precisions))
    for batch in batches:
        cells = []
        for precision in precisions:
            place = dreamer.placement.with_precision(precision)
            gradient = Gradient(
                net,
                LayerObjective(layer),
                autocast=place.autocast(),
                channels_last=place.channels_last,
            )
            crops = [torch.rand(1, 3, h, w, device=args.device) * 255 for _ in range(batch)]
            items = [(gradient, c) for c in crops]
            if args.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            seconds = timed(lambda i=items: batched_gradients(i, (h, w)), args.device, args.repeats)
            peak = (
                torch.cuda.max_memory_allocated() / 2**20
                if args.device.startswith("cuda")
                else float("nan")
            )
            cells.append(f"{1000 * seconds / batch:9.2f} ({peak:5.0f})")
        print(f"   {batch:5d} " + "".join(f"{c:>18s}" for c in cells))


# --- 3. throughput through the pool -----------------------------------------------------------


def pool_requests(args, model: str) -> list[DreamRequest]:
    """The dreams in flight: 8 photo sizes (448..672 px at 512) and aspects, one seed each."""
    sides = [round(args.side * (0.875 + 0.0625 * i)) for i in range(8)]
    layer = model_info(model).default_layer
    n = 8 if args.quick else 32
    return [
        DreamRequest(
            image=photo_bytes(sides[i % 8], aspect=0.75 - 0.02 * (i % 5)),
            params=make_params(
                model=model, layer=layer, seed=i, max_side=sides[i % 8], **args.schedule
            ),
        )
        for i in range(n)
    ]


async def pool_rate(args, model: str, workers: int, per_worker: int, batching: str) -> float:
    from dreamcore.pool import make_backend

    requests = pool_requests(args, model)
    n = len(requests)
    config = PoolConfig(
        workers=workers,
        cpu_workers=workers,
        dreams_per_worker=per_worker,
        warm_models=(model,),
        queue_size=n + 1,
        handler=HANDLER,
    )
    eng = EngineConfig(device=args.device, models=(model,), offline=True, batching=batching)
    async with make_backend(config, eng) as pool:
        await pool.submit(requests[0]).result()  # warm: the kernels for a first size
        t0 = time.perf_counter()
        await asyncio.gather(*(pool.submit(r).result() for r in requests))
        return n / (time.perf_counter() - t0)


def throughput(args, model: str) -> None:
    gpu = args.device.startswith("cuda")
    held = 16 if gpu else 2
    rows = [
        ("1 worker, 1 dream at a time (the old default)", 1, 1, "off"),
        ("4 workers sharing the device, 1 dream each", 4 if gpu else 2, 1, "off"),
        (f"1 worker holding {held} dreams, batched (now)", 1, held, "on"),
    ]
    n = 8 if args.quick else 32
    print(f"\n3. through the pool: {n} dreams in flight, 8 photo sizes 448-672 px ({model})")
    base = None
    for name, workers, per_worker, batching in rows:
        rate = asyncio.run(pool_rate(args, model, workers, per_worker, batching))
        base = base or rate
        print(f"   {name:50s} {rate:7.2f} dreams/s   {rate / base:5.2f}x")
    measured(args, "pool", model, rate)  # the last row: the pool as it serves now
    # the same dreams in this process, to see the batches form (a worker's are out of reach):
    # the padding granule trades padded pixels for bigger batches
    for bucket in (64, 128):
        rate, mean, largest, graphs = engine_rate(args, model, held, bucket)
        name = f"in one engine, {held} threads, batch_bucket {bucket}"
        print(
            f"   {name:50s} {rate:7.2f} dreams/s   {rate / base:5.2f}x"
            f"   mean batch {mean:.1f}, largest {largest}{graphs}"
        )


def engine_rate(args, model: str, threads: int, bucket: int) -> tuple[float, float, int, str]:
    """Dreams/s of the pool's dreams run by `threads` threads on one batching engine (as a
    worker holding that many runs them), the mean and largest batch, and the graphs it made."""
    requests = pool_requests(args, model)
    dreamer = engine(args.device, models=(model,), batching="on", batch_bucket=bucket)
    dreamer.model(model)
    dreamer.run(requests[0])  # warm: the kernels for a first size
    assert dreamer.batcher is not None
    dreamer.batcher.stats = BatchStats()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(dreamer.run, requests))
    rate = len(requests) / (time.perf_counter() - t0)
    stats = dreamer.batcher.stats
    graphs = ""
    if dreamer.graphs is not None:
        g = dreamer.graphs.stats
        graphs = f", {g.captures} graphs ({g.held / 2**20:.0f} MiB, {g.evictions} evicted)"
    return rate, stats.images / max(1, stats.batches), stats.largest, graphs


# --- 4. fidelity --------------------------------------------------------------------------------


def fidelity(args) -> None:
    model, layer = "vgg16-hed", "relu4_3"
    params = dict(model=model, layer=layer, octaves=3, steps=8, max_side=320)

    def pixels(precision: str, seed: int, batching: str = "off") -> np.ndarray:
        dreamer = engine(args.device, models=(model,), precision=precision, batching=batching)
        result = dreamer.run(
            DreamRequest(image=PHOTO.read_bytes(), params=make_params(**params, seed=seed))
        )
        return np.asarray(Image.open(io.BytesIO(result.image)).convert("RGB"), dtype=np.float64)

    fp32, fast, seed8 = pixels("fp32", 7), pixels("auto", 7, "auto"), pixels("fp32", 8)
    before = np.asarray(
        Image.open(PHOTO).convert("RGB").resize(fp32.shape[1::-1], Image.LANCZOS), np.float64
    )
    print(f"\n4. fidelity, {model} {layer} 320 px (0..255 units; change = dream - photo)")
    for name, other in (("fast path (auto)", fast), ("fp32, another seed", seed8)):
        diff = np.abs(other - fp32).mean()
        corr = np.corrcoef((other - before).ravel(), (fp32 - before).ravel())[0, 1]
        print(f"   {name:22s} mean |x - fp32| {diff:5.2f}   change's correlation {corr:.3f}")


# --- 5. CUDA graphs against eager ---------------------------------------------------------------


def graphs_table(args, model: str) -> None:
    layer = model_info(model).default_layer
    gpu = args.device.startswith("cuda")
    dreamer = engine(args.device, models=(model,))  # auto: the precision dreams run in
    net = dreamer.model(model)
    place = dreamer.placement_of(model)
    gradient = Gradient(
        net, LayerObjective(layer), autocast=place.autocast(), channels_last=place.channels_last
    )
    h, w = round(args.side * 0.75), args.side
    print(f"\n5. CUDA graphs against eager ({model} {layer}, {w}x{h}, {place.precision})")
    if not gpu:
        print(f"   graphs: not available on {args.device} (CUDA only); eager figures alone")
    print(f"   {'':40s} {'eager':>10s} {'graphed':>10s} {'eager/graphed':>14s}")

    def row(name: str, eager: float, graphed: float | None, unit: str, note: str = "") -> None:
        scale = 1000 if unit == "ms" else 1
        cells = f"{scale * eager:8.2f}{unit:>2s}"
        if graphed is None:
            cells += f" {'n/a':>10s} {'':>14s}"
        else:
            cells += f" {scale * graphed:8.2f}{unit:>2s} {eager / graphed:13.2f}x"
        print(f"   {name:40s} {cells}  {note}".rstrip())

    for batch in (1, 16):
        crops = [torch.rand(1, 3, h, w, device=args.device) * 255 for _ in range(batch)]
        items = [(gradient, c) for c in crops]
        eager = timed(lambda i=items: batched_gradients(i, (h, w)), args.device, args.repeats)
        graphed, note = None, ""
        if gpu:
            cache = GraphCache(max_batch=16, capture_after=1)
            t0 = time.perf_counter()
            batched_gradients(items, (h, w), graphs=cache)  # the capture
            sync(args.device)
            capture = time.perf_counter() - t0
            graphed = timed(
                lambda i=items, c=cache: batched_gradients(i, (h, w), graphs=c),
                args.device,
                args.repeats,
            )
            if cache.stats.failures:
                note = "capture failed: eager (see the log)"
            else:
                note = f"capture {capture:.2f} s, {cache.stats.held / 2**20:.0f} MiB"
        per_image = None if graphed is None else graphed / batch
        row(f"one step, batch {batch}, per image", eager / batch, per_image, "ms", note)

    params = make_params(model=model, layer=layer, seed=1, max_side=args.side, **args.schedule)
    request = DreamRequest(image=photo_bytes(args.side), params=params)
    lone = {}
    for graphs in ("off", "auto") if gpu else ("off",):
        d = engine(args.device, models=(model,), cuda_graphs=graphs)
        d.model(model)
        lone[graphs] = (timed(lambda d=d: d.run(request), args.device, args.repeats), d)
    eager_s, eager_d = lone["off"]
    graphed_s, note = None, ""
    if "auto" in lone:
        graphed_s, graphed_d = lone["auto"]
        stats = graphed_d.graphs.stats if graphed_d.graphs else None
        note = (
            f"[{eager_d.placement_of(model).precision} / {graphed_d.placement_of(model).precision}"
            f"; {stats.captures if stats else 0} graphs, {stats.failures if stats else 0} failed]"
        )
    row("a lone dream", eager_s, graphed_s, "s", note)


# --- the targets -------------------------------------------------------------------------------

# issue 20's targets (H200, 512 px, 4 octaves x 10 steps): (what, model) -> (bound, unit, at most)
TARGETS = {
    ("lone", "inception5h"): (0.08, "s", True),
    ("pool", "inception5h"): (50.0, "dreams/s", False),
    ("pool", "vgg16-hed"): (25.0, "dreams/s", False),
}


def measured(args, what: str, model: str, value: float) -> None:
    """Keep a figure that has a target, and say at once how it stands (a run cut off by the
    device's time limit still tells what it measured)."""
    args.results[(what, model)] = value
    if (what, model) in TARGETS:
        print(f"   -> {target_line(args, what, model)}")


def target_line(args, what: str, model: str) -> str:
    bound, unit, at_most = TARGETS[(what, model)]
    name = f"{model}, {'a lone dream' if what == 'lone' else 'through the pool'}"
    got = args.results.get((what, model))
    if got is None:
        return f"{name:36s} not measured in this run"
    comparable = args.device.startswith("cuda") and not args.quick and args.side == 512
    met = got <= bound if at_most else got >= bound
    verdict = ("met" if met else "NOT met") if comparable else "- (not comparable here)"
    sign = "<=" if at_most else ">="
    return f"{name:36s} {got:8.3f} {unit:9s} target {sign} {bound:g}   {verdict}"


def targets(args) -> None:
    """This run's figures against the targets (only meaningful on the GPU at full size)."""
    print("\ntargets (H200, 512 px, 4 octaves x 10 steps)")
    for what, model in TARGETS:
        print(f"   {target_line(args, what, model)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--models", nargs="+", default=["inception5h", "vgg16-hed"])
    parser.add_argument(
        "--only", nargs="+", default=["lone", "steps", "pool", "fidelity", "graphs"]
    )
    args = parser.parse_args()
    if args.quick:
        args.side, args.repeats = 128, 1
    args.schedule = dict(octaves=2, steps=2) if args.quick else dict(octaves=4, steps=10)
    args.results = {}
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
        print(torch.cuda.get_device_name(), "torch", torch.__version__)
    for model in args.models:
        if "lone" in args.only:
            lone_dream(args, model)
        if "steps" in args.only:
            step_table(args, model)
        if "pool" in args.only:
            throughput(args, model)
        if "graphs" in args.only:
            graphs_table(args, model)
    if "fidelity" in args.only:
        fidelity(args)
    targets(args)


if __name__ == "__main__":
    main()
