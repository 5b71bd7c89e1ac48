"""What each dream control costs, as a ratio to the classic dream it changes, measured in one run.

    python benchmarks/bench_controls.py [--model googlenet] [--side 384] [--repeats 3]

Every variant dreams the same photo with the same schedule and seed; only the control differs:
a channel, a mix of two layers, a class target, a guide image, smooth gradients (4 Laplacian
levels, the `smooth` preset), original colours. The variants take turns, dream by dream, and each
figure is the best whole dream of the repeats (decode and encode included: what a user waits
for). Speed does not depend on the weights, so a model whose weights can't be had here runs with
random weights (said in the output).
"""

from __future__ import annotations

import argparse
import time

from bench_common import GUIDE, PHOTO, dreamer_for  # first: it puts the project on sys.path

from dreamcore.catalog import model_info
from dreamcore.engine.dreamer import Dreamer
from dreamcore.request import DreamRequest, make_params

SECOND_LAYER = {"googlenet": "inception4e", "inception5h": "mixed4e", "vgg16": "conv5_3"}
CLASS = "banana"


def variants(model: str) -> dict[str, dict]:
    layer = model_info(model).default_layer
    out = {
        "classic": dict(layer=layer),
        "channel": dict(layer=f"{layer}:7"),
        "mix of two layers": dict(layer=f"{layer}+{SECOND_LAYER[model]}*0.5"),
        "guide image": dict(layer=layer, guided=True),
        "smooth (4 levels)": dict(layer=layer, smooth=4),
        "original colours": dict(layer=layer, colors="original"),
    }
    if model_info(model).classes:
        out["class target"] = dict(target_class=CLASS)
    return out


def timed(dreamer: Dreamer, common: dict, options: dict) -> float:
    guide = GUIDE.read_bytes() if options.get("guided") else None
    request = DreamRequest(
        image=PHOTO.read_bytes(), params=make_params(**common, **options), guide=guide
    )
    t0 = time.perf_counter()
    dreamer.run(request)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="googlenet", choices=sorted(SECOND_LAYER))
    ap.add_argument("--side", type=int, default=384)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    dreamer, weights = dreamer_for(args.model)
    common = dict(model=args.model, max_side=args.side, octaves=3, steps=8, seed=1)
    runs = variants(args.model)
    print(f"{args.model} ({weights}), {args.side} px, 3 octaves x 8 steps, best of {args.repeats}")
    timed(dreamer, common, runs["classic"])  # warm: kernels for each octave size
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeats):
        for name, options in runs.items():
            best[name] = min(best[name], timed(dreamer, common, options))
    base = best["classic"]
    for name, seconds in best.items():
        print(f"  {name:<20} {seconds:6.2f} s   {seconds / base:5.2f}x the classic dream")


if __name__ == "__main__":
    main()
