"""Does torch.compile pay for the engine on CPU? Compile time against the time it saves.

    python benchmarks/bench_compile.py [--models inception5h] [--precision bf16] [--side 512]

For each model: the engine's gradient (forward to the layer, objective, backward) eager and under
torch.compile (static shapes, then dynamic=True), with a cold Inductor cache (a temporary
directory). Prints the first call (compilation), the first call at each new octave size (a
dream's octaves, and every differently sized photo, are new shapes), and the steady-state time
per gradient, best of the repeats, interleaved with eager.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def compiled_gradient(net, objective, dynamic: bool):
    import torch

    loss = torch.compile(lambda x: objective.loss(net(x, objective.layers)), dynamic=dynamic)

    def gradient(image):
        x = image.detach().clone().contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)
        loss(x).backward()
        return x.grad

    return gradient


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def bench(model: str, args) -> None:
    import torch.nn.functional as F

    from benchmarks.bench_dream import photo_tensor
    from dreamcore.catalog import model_info
    from dreamcore.config import EngineConfig
    from dreamcore.engine.device import placement
    from dreamcore.engine.gradient import Gradient
    from dreamcore.engine.models import build_model
    from dreamcore.engine.objectives import LayerObjective

    layer = model_info(model).default_layer
    place = placement(EngineConfig(device="cpu", precision=args.precision))
    net = place.prepare(build_model(model, pretrained=False))
    objective = LayerObjective(layer)
    image = photo_tensor(args.side)
    octaves = [F.interpolate(image, scale_factor=1 / 1.4**i, mode="bilinear") for i in (1, 2)]
    eager = Gradient(net, objective, tile_size=4096, channels_last=True)
    variants = {"eager": eager}
    print(f"\n{model} ({layer}, {args.precision}, photo {tuple(image.shape[-2:])}):")
    for dynamic in (False, True):
        name = "compile, dynamic" if dynamic else "compile, static"
        gradient = compiled_gradient(net, objective, dynamic)
        try:
            first = timed(gradient, image)
            new_sizes = [timed(gradient, o) for o in octaves]
        except Exception as err:  # noqa: BLE001 - a Dynamo/Inductor limitation is a result too
            print(f"  {name:17s} failed: {type(err).__name__}: {str(err).splitlines()[0]}")
            continue
        print(
            f"  {name:17s} first call {first:6.1f} s; next octave sizes "
            + ", ".join(f"{t:.1f} s" for t in new_sizes)
        )
        variants[name] = gradient
    best = {name: float("inf") for name in variants}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
        for name, gradient in variants.items():
            best[name] = min(best[name], timed(gradient, image))
    for name, seconds in best.items():
        print(
            f"  {name:17s} {seconds * 1000:7.1f} ms per gradient ({best['eager'] / seconds:.2f}x)"
        )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", nargs="+", default=["inception5h"])
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # cold: what a fresh worker would pay
        for model in args.models:
            bench(model, args)


if __name__ == "__main__":
    main()
