"""Engine vs the textbook DeepDream loop, same photo/model/layer/settings, measured in one run.

    python benchmarks/bench_dream.py [--model inception5h] [--layer mixed4c] [--side 512] [--repeats 2]
    python benchmarks/bench_dream.py --memory        # peak memory of tiled gradients, 1024 vs 2048 px

Speed only depends on the architecture, so networks without downloadable weights here run with
random weights (said in the output). The baseline is what most tutorials write: the full network
forward with a hook on the target layer (no truncation), parameters left requiring grad, fp32,
default memory format, whole-image gradients. Both share the octave/jitter/step schedule and seed.
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

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dreamcore.catalog import model_info  # noqa: E402
from dreamcore.config import EngineConfig  # noqa: E402
from dreamcore.engine.deepdream import dream  # noqa: E402
from dreamcore.engine.device import placement  # noqa: E402
from dreamcore.engine.gradient import Gradient  # noqa: E402
from dreamcore.engine.imageio import to_tensor  # noqa: E402
from dreamcore.engine.models import build_model  # noqa: E402
from dreamcore.engine.objectives import LayerObjective  # noqa: E402
from dreamcore.errors import WeightsUnavailable  # noqa: E402
from dreamcore.request import DreamParams  # noqa: E402

PHOTO = ROOT / "tests" / "data" / "chelsea.jpg"


def load_net(name: str):
    try:
        return build_model(name, EngineConfig(offline=True)), "trained weights"
    except WeightsUnavailable:
        return build_model(name, pretrained=False), "random weights (speed does not depend on them)"


def photo_tensor(side: int) -> torch.Tensor:
    im = Image.open(PHOTO).convert("RGB")
    scale = side / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    return to_tensor(im)  # 1 x 3 x H x W


def baseline_net(name: str):
    """The same architecture as a tutorial would build it (inception5h: torch's own LRN)."""
    if name == "inception5h":
        from dreamcore.engine.inception5h import Inception5h

        return Inception5h(fast_lrn=False).eval()
    return build_model(name, pretrained=False)


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


def timed_dream(gradient, image, config, seed=0) -> float:
    t0 = time.perf_counter()
    dream(image, gradient, config, generator=torch.Generator().manual_seed(seed))
    return time.perf_counter() - t0


def count_flops(gradient, image, config) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    one_step = config.model_copy(update={"steps": 1})
    with FlopCounterMode(display=False) as counter:
        dream(image, gradient, one_step, generator=torch.Generator().manual_seed(0))
    return counter.get_total_flops() * config.steps


def matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def where_time_goes(gradient, image, top: int = 8) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        gradient(image)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)


def bench_speed(args) -> None:
    info = model_info(args.model)
    layer = info.layer(args.layer or info.default_layer).name
    net, weights = load_net(args.model)
    image = photo_tensor(args.side)
    config = DreamParams(octaves=4, steps=10)  # whole image (tile = side): same work for both
    place = placement(EngineConfig(device="cpu"))  # what the Dreamer would choose on this machine
    if place.channels_last:
        net = net.to(memory_format=torch.channels_last)
    engine = Gradient(
        net, LayerObjective(layer), tile_size=args.side, channels_last=place.channels_last
    )
    naive = NaiveGradient(baseline_net(args.model), layer, info.layers[-1].name)
    print(
        f"model {args.model} ({weights}), layer {layer}, photo {tuple(image.shape[-2:])}, "
        f"4 octaves x 10 steps, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"engine: truncated at {layer}, frozen parameters, channels_last={place.channels_last}"
        + (", fast LRN" if args.model == "inception5h" else "")
        + "; baseline: full network, hook, parameter grads, contiguous fp32"
    )
    warm = DreamParams(octaves=1, steps=1)
    timed_dream(engine, image, warm), timed_dream(naive, image, warm)
    t_engine, t_naive = [], []
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        t_naive.append(timed_dream(naive, image, config))
        t_engine.append(timed_dream(engine, image, config))
    best_e, best_n = min(t_engine), min(t_naive)
    for p in naive.net.parameters():
        p.requires_grad_(True)
    f_engine, f_naive = count_flops(engine, image, config), count_flops(naive, image, config)
    peak = matmul_peak_gflops()
    print(
        f"baseline : {best_n:7.2f} s/dream  {f_naive / 1e9:8.1f} GFLOP  {f_naive / best_n / 1e9:6.1f} GFLOP/s"
    )
    print(
        f"engine   : {best_e:7.2f} s/dream  {f_engine / 1e9:8.1f} GFLOP  {f_engine / best_e / 1e9:6.1f} GFLOP/s"
    )
    print(f"speedup  : {best_n / best_e:.2f}x   (work ratio {f_naive / f_engine:.2f}x)")
    print(
        f"matmul peak (2048^3 fp32): {peak:.1f} GFLOP/s; engine reaches {f_engine / best_e / 1e9 / peak:.0%} of it"
    )
    print("\nwhere the engine's time goes (one full-size gradient):")
    print(where_time_goes(engine, image))


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
    info = model_info(args.model)
    layer = info.layer(args.layer or info.default_layer).name
    rows = {}
    for side, tile in ((1024, 512), (2048, 512), (1024, 4096), (2048, 4096)):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", args.model, layer, str(side), str(tile)],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        rows[(side, tile)] = json.loads(out)["peak_growth_mb"]
        print(
            f"{side:5d} px, tile {tile if tile < side else 'none':>4}: peak memory growth {rows[(side, tile)]:8.0f} MB"
        )
    print(f"tiled   2048/1024 ratio: {rows[(2048, 512)] / rows[(1024, 512)]:.2f}x  (aim: <= 1.5x)")
    print(f"untiled 2048/1024 ratio: {rows[(2048, 4096)] / rows[(1024, 4096)]:.2f}x")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        model, layer, side, tile = sys.argv[2:6]
        memory_child(model, layer, int(side), int(tile))
        return
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="inception5h")
    p.add_argument("--layer", default=None)
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--memory", action="store_true")
    args = p.parse_args()
    bench_memory(args) if args.memory else bench_speed(args)


if __name__ == "__main__":
    main()
