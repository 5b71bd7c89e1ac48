"""Engine (fp32 and bf16) vs the textbook DeepDream loop, for inception5h and googlenet, in one run.

    python benchmarks/bench_dream.py [--models inception5h googlenet] [--side 512] [--repeats 3]
    python benchmarks/bench_dream.py --profile     # also: where the bf16 engine's time goes
    python benchmarks/bench_dream.py --memory      # peak memory of tiled gradients, 1024 vs 2048 px
    python benchmarks/bench_dream.py --controls    # each dream control's cost (bench_controls.py)

Speed only depends on the architecture, so networks without downloadable weights here run with
random weights (said in the output). The baseline is what most tutorials write: the full network
forward with a hook on the target layer (no truncation), parameters left requiring grad, fp32,
default memory format, whole-image gradients, nothing folded. The engine runs as the Dreamer
places it (channels-last, folded layers, weights cast once) in fp32 and in bf16. All share the
octave/jitter/step schedule and seed.

The variants take turns, dream by dream, and each figure is the best of the repeats. Two times per
variant: the best whole dream, and the sum over the dream's steps of each step's best time (a
step's best is what it costs when no other process interrupts it: on a shared machine this is the
steadier of the two). GFLOP/s counts the convolutions' and matrix products' work (torch's
FlopCounterMode) per second of the step-best time, against the machine's own matmul peaks in
fp32 and bf16, measured in this run too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# oneDNN keeps 1024 kernels (primitives) by default; three variants x four octave sizes need more,
# and evicting them mid-run makes later variants pay to rebuild theirs (measured: the bf16 engine
# 25% slower). A worker runs one variant and fits. Read when oneDNN makes its first kernel.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8192")

import torch
from bench_common import PHOTO
from PIL import Image

from dreamcore.catalog import model_info
from dreamcore.config import EngineConfig
from dreamcore.engine.deepdream import dream
from dreamcore.engine.device import DTYPES, native_bf16_flags, placement
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.imageio import to_tensor
from dreamcore.engine.models import build_model, model_spec
from dreamcore.engine.objectives import LayerObjective
from dreamcore.errors import WeightsUnavailable
from dreamcore.request import DreamParams

SCHEDULE = DreamParams(octaves=4, steps=10)


def load_net(name: str):
    try:
        return build_model(name, EngineConfig(offline=True)), "trained weights"
    except WeightsUnavailable:
        return build_model(name, pretrained=False), "random weights: speed does not depend on them"


def photo_tensor(side: int) -> torch.Tensor:
    im = Image.open(PHOTO).convert("RGB")
    scale = side / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    return to_tensor(im)  # 1 x 3 x H x W


def baseline_net(name: str):
    """The same architecture as a tutorial would build it (inception5h: torch's own LRN;
    googlenet: torchvision's modules, batch norms and all)."""
    if name == "inception5h":
        from dreamcore.engine.inception5h import Inception5h

        return Inception5h(fast_lrn=False).eval()
    return model_spec(name).build().eval()


class NaiveGradient:
    """The textbook loop: whole network, hook on the layer, parameters still requiring grad."""

    def __init__(self, net, layer: str, deepest: str):
        self.net, self.layer, self.deepest = net, layer, deepest
        for p in net.parameters():
            p.requires_grad_(True)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        x = image.detach().clone().requires_grad_(True)
        acts = self.net(x, [self.layer, self.deepest])  # runs to the end of the network
        loss = acts[self.layer].pow(2).mean()
        self.net.zero_grad(set_to_none=True)
        loss.backward()  # also computes every parameter's gradient, as the textbook loop does
        return x.grad


class StepTimes:
    """Wraps a gradient: remembers each step's best time over the dreams it took part in."""

    def __init__(self, gradient) -> None:
        self.gradient, self.best, self._step = gradient, {}, 0

    def start_dream(self) -> None:
        self._step = 0

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        g = self.gradient(image)
        seconds = time.perf_counter() - t0
        self.best[self._step] = min(self.best.get(self._step, seconds), seconds)
        self._step += 1
        return g

    def step_best_sum(self) -> float:
        return sum(self.best.values())


def count_flops(gradient, image) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    one_step = SCHEDULE.model_copy(update={"steps": 1})
    with FlopCounterMode(display=False) as counter:
        dream(image, gradient, one_step, generator=torch.Generator().manual_seed(0))
    return counter.get_total_flops() * SCHEDULE.steps


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def where_time_goes(gradient, image, top: int = 12) -> str:
    from torch.profiler import ProfilerActivity, profile

    gradient(image)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            gradient(image)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)


def engine_gradient(name: str, layer: str, precision: str, side: int):
    place = placement(EngineConfig(device="cpu", precision=precision))
    net, weights = load_net(name)
    net = place.prepare(net)
    gradient = Gradient(net, LayerObjective(layer), tile_size=side, channels_last=True)
    return gradient, weights


def bench_model(name: str, args, peaks: dict[str, list[float]]) -> None:
    info = model_info(name)
    layer = info.layer(args.layer or info.default_layer).name
    image = photo_tensor(args.side)
    engine32, weights = engine_gradient(name, layer, "fp32", args.side)
    engine16, _ = engine_gradient(name, layer, "bf16", args.side)
    naive = NaiveGradient(baseline_net(name), layer, info.layers[-1].name)
    variants = {
        "tutorial fp32": (StepTimes(naive), "fp32"),
        "engine fp32": (StepTimes(engine32), "fp32"),
        "engine bf16": (StepTimes(engine16), "bf16"),
    }
    print(
        f"\n{name} ({weights}), layer {layer}, photo {tuple(image.shape[-2:])}, "
        f"{SCHEDULE.octaves} octaves x {SCHEDULE.steps} steps"
    )
    for timed, _ in variants.values():  # every octave size's kernels made before timing
        dream(image, timed.gradient, SCHEDULE.model_copy(update={"steps": 1}))
    whole: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
        for variant, (timed, _) in variants.items():
            timed.start_dream()
            t0 = time.perf_counter()
            dream(image, timed, SCHEDULE, generator=torch.Generator().manual_seed(0))
            whole[variant].append(time.perf_counter() - t0)
        for precision, values in peaks.items():
            values.append(matmul_gflops(DTYPES[precision]))
    # A bot's every photo has its own size: one dream more at a size no variant has seen, which
    # pays for making its kernels, as a request does.
    unseen = photo_tensor(args.side - 10)
    new_size = {}
    for variant, (timed, _) in variants.items():
        t0 = time.perf_counter()
        dream(unseen, timed.gradient, SCHEDULE, generator=torch.Generator().manual_seed(0))
        new_size[variant] = time.perf_counter() - t0
    for p in naive.net.parameters():
        p.requires_grad_(True)
    flops = {v: count_flops(timed.gradient, image) for v, (timed, _) in variants.items()}
    print(
        f"{'':14s} {'best dream':>10s} {'step-best':>10s} {'new size':>9s} {'GFLOP':>6s} "
        f"{'GFLOP/s':>8s} {'of peak':>12s} {'vs tutorial':>11s} {'vs engine fp32':>14s}"
    )
    base = variants["tutorial fp32"][0].step_best_sum()
    engine_fp32 = variants["engine fp32"][0].step_best_sum()
    for variant, (timed, dtype) in variants.items():
        t = timed.step_best_sum()
        rate = flops[variant] / t / 1e9
        print(
            f"{variant:14s} {min(whole[variant]):9.2f}s {t:9.2f}s {new_size[variant]:8.2f}s "
            f"{flops[variant] / 1e9:6.1f} {rate:8.1f} {rate / max(peaks[dtype]):7.0%} {dtype} "
            f"{base / t:10.2f}x {engine_fp32 / t:13.2f}x"
        )
    best = {variant: min(times) for variant, times in whole.items()}
    bf16 = variants["engine bf16"][0].step_best_sum()
    height, width = unseen.shape[-2:]
    print(
        f"engine bf16 vs engine fp32: {engine_fp32 / bf16:.2f}x (step-best), "
        f"{best['engine fp32'] / best['engine bf16']:.2f}x (best dream), "
        f"{new_size['engine fp32'] / new_size['engine bf16']:.2f}x (at {height}x{width}, new)"
    )
    if args.profile:
        print(f"\nwhere the bf16 engine's time goes ({name}, three full-size gradients):")
        print(where_time_goes(engine16, image))


def bench_speed(args) -> None:
    flags = native_bf16_flags()
    auto = placement(EngineConfig(device="cpu")).precision
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; CPU flags for native bf16: "
        f"{', '.join(flags) or 'none'} -> precision auto = {auto}"
    )
    peaks: dict[str, list[float]] = {"fp32": [], "bf16": []}  # GFLOP/s, one per repeat
    for name in args.models:
        bench_model(name, args, peaks)
    print(
        f"\nmatmul peaks (2048^3, best of {len(peaks['fp32'])} measured between the dreams): "
        f"fp32 {max(peaks['fp32']):.0f} GFLOP/s, bf16 {max(peaks['bf16']):.0f} GFLOP/s"
    )


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_child(model: str, layer: str, side: int, tile: int) -> None:
    """Runs in a fresh process: peak RSS growth of one gradient step at `side` px."""
    torch.set_num_threads(1)
    net, _ = load_net(model)
    image = torch.rand(1, 3, side, side) * 255
    gradient = Gradient(net, LayerObjective(layer), tile_size=tile)
    gradient(torch.rand(1, 3, 64, 64) * 255)  # allocator and kernels warm
    before = _rss_mb()
    gradient(image)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": side, "tile": tile, "peak_growth_mb": peak - before}))


def bench_memory(args) -> None:
    model = args.models[0]
    info = model_info(model)
    layer = info.layer(args.layer or info.default_layer).name
    rows = {}
    for side, tile in ((1024, 512), (2048, 512), (1024, 4096), (2048, 4096)):
        out = (
            subprocess.run(
                [sys.executable, __file__, "--memory-child", model, layer, str(side), str(tile)],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        rows[(side, tile)] = json.loads(out)["peak_growth_mb"]
        label = tile if tile < side else "none"
        print(f"{side:5d} px, tile {label:>4}: peak memory growth {rows[(side, tile)]:8.0f} MB")
    print(f"tiled   2048/1024 ratio: {rows[(2048, 512)] / rows[(1024, 512)]:.2f}x  (aim: <= 1.5x)")
    print(f"untiled 2048/1024 ratio: {rows[(2048, 4096)] / rows[(1024, 4096)]:.2f}x")


def bench_controls(args: argparse.Namespace) -> None:
    """Each control's cost vs the classic dream, one model at a time (a process each)."""
    script = Path(__file__).with_name("bench_controls.py")
    for model in args.models:
        sizes = ["--side", str(args.side), "--repeats", str(args.repeats)]
        subprocess.run([sys.executable, str(script), "--model", model, *sizes], check=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        model, layer, side, tile = sys.argv[2:6]
        memory_child(model, layer, int(side), int(tile))
        return
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", nargs="+", default=["inception5h", "googlenet"])
    p.add_argument("--layer", default=None, help="default: each model's default layer")
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--memory", action="store_true")
    p.add_argument("--controls", action="store_true", help="run bench_controls.py per model")
    args = p.parse_args()
    if args.controls:
        bench_controls(args)
    else:
        bench_memory(args) if args.memory else bench_speed(args)


if __name__ == "__main__":
    main()
