"""/dream variants:4 against 4 separate dreams, and how much the variants differ, in one run.

    python benchmarks/bench_variants.py [--model googlenet] [--layer L] [--side 256] [--repeats 2]

"Separate": four /dream of the photo with the same settings and four seeds, one after another.
"Variants": the four params `/dream variants:4` chooses (bot/params.py: four channels of the
layer, four seeds), dreamed as the bot dreams them: in turn, one job each. Each figure is the
best of the repeats of the whole set (decode and encode included). Then the mean absolute pixel
difference (0-255) between each pair of variants, against the same between two seeds of the
same settings (and the dream against its photo, for scale). Speed does not depend on the
weights, but the differences do: with random weights (said in the output) they only show the
machinery, not what a trained network's channels look like.
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import time

import numpy as np
from bench_common import PHOTO, dreamer_for  # first: it puts the project on sys.path
from PIL import Image

from bot.params import variants
from dreamcore.catalog import model_info
from dreamcore.engine.dreamer import Dreamer
from dreamcore.request import DreamParams, DreamRequest, make_params

N = 4


def pixels(data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        return np.asarray(im.resize(size) if size else im, dtype=np.float32)


def dream_all(dreamer: Dreamer, params: list[DreamParams]) -> tuple[float, list[np.ndarray]]:
    photo = PHOTO.read_bytes()
    t0 = time.perf_counter()
    images = [dreamer.run(DreamRequest(image=photo, params=p)).image for p in params]
    return time.perf_counter() - t0, [pixels(image) for image in images]


def mean_pairwise(images: list[np.ndarray]) -> float:
    pairs = list(itertools.combinations(images, 2))
    return float(np.mean([np.abs(a - b).mean() for a, b in pairs]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="googlenet")
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--octaves", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--layer", default=None, help="the chosen layer (default: the model's)")
    args = ap.parse_args()

    dreamer, weights = dreamer_for(args.model)
    layer = args.layer or model_info(args.model).default_layer
    base = make_params(
        model=args.model,
        layer=layer,
        max_side=args.side,
        octaves=args.octaves,
        steps=args.steps,
        seed=1,
    )
    separate = [base.model_copy(update={"seed": seed}) for seed in range(1, N + 1)]
    chosen = variants(base, N, random.Random(0))
    dream_all(dreamer, separate[:1])  # warm: the model placed, the first pass paid

    best: dict[str, float] = {"separate": float("inf"), "variants": float("inf")}
    out: dict[str, list[np.ndarray]] = {}
    for _ in range(args.repeats):  # taking turns, so drift hits both alike
        for name, params in (("separate", separate), ("variants", chosen)):
            seconds, out[name] = dream_all(dreamer, params)
            best[name] = min(best[name], seconds)

    photo = pixels(PHOTO.read_bytes(), out["separate"][0].shape[1::-1])
    print(
        f"{args.model} ({weights}), {args.side} px, {args.octaves} octaves x {args.steps} "
        f"steps, CPU, best of {args.repeats}"
    )
    print(f"  variants: {', '.join(f'{p.layer} seed {p.seed}' for p in chosen)}")
    for name in ("separate", "variants"):
        print(f"  {N} {name:<9} {best[name]:7.2f} s  ({best[name] / N:.2f} s a dream)")
    print(f"  variants:{N} / {N} separate: {best['variants'] / best['separate']:.2f}x")
    print("  mean |difference| per pixel (0-255):")
    print(f"    between variants (each pair)      {mean_pairwise(out['variants']):6.2f}")
    print(f"    between two seeds, same settings  {mean_pairwise(out['separate']):6.2f}")
    for name in ("separate", "variants"):
        against = np.mean([np.abs(image - photo).mean() for image in out[name]])
        print(f"    {name} dreams against the photo  {against:6.2f}")


if __name__ == "__main__":
    main()
