"""Animations: frames per second of a zoom, each frame's cost against a still dream, and peak
memory for 16 vs 64 frames (it must not grow with the frame count), measured in one run.

    python benchmarks/bench_animate.py [--model inception5h] [--side 512] [--frames 16]

Speed does not depend on the weights, so models whose weights can't be had here run with random
weights (said in the output). Memory is measured in fresh processes (peak RSS of each run).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from bench_common import PHOTO, dreamer_for  # first: it puts the project on sys.path

from dreamcore.engine.dreamer import Dreamer
from dreamcore.request import DreamRequest, make_params


def timed(dreamer: Dreamer, **params) -> tuple[float, object]:
    request = DreamRequest(image=PHOTO.read_bytes(), params=make_params(**params, seed=1))
    t0 = time.perf_counter()
    result = dreamer.run(request)
    return time.perf_counter() - t0, result


def memory_child(model: str, side: int, frames: int) -> None:
    dreamer, _ = dreamer_for(model, max_side_cap=4096)
    timed(dreamer, model=model, max_side=side, animate="zoom", frames=frames)
    print(
        json.dumps(
            {"frames": frames, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        )
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="inception5h")
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--frames", type=int, default=16)
    args = p.parse_args()
    dreamer, weights = dreamer_for(args.model, max_side_cap=4096)
    base = dict(model=args.model, max_side=args.side)
    timed(dreamer, **base, octaves=1, steps=1)  # warm up kernels
    still_s, still = timed(dreamer, **base)
    anim_s, anim = timed(dreamer, **base, animate="zoom", frames=args.frames)
    per_frame = (anim_s - still_s) / max(1, args.frames - 1)  # frame 0 is a full still dream
    print(f"{args.model} ({weights}), {still.width}x{still.height}, defaults: 4 octaves x 10 "
          f"steps; later frames: 2 octaves x 5 steps")  # fmt: skip
    print(f"still dream        : {still_s:7.2f} s")
    size = f"{len(anim.image) / 1024:.0f} KiB animated {anim.format}"
    fps = args.frames / anim_s
    print(f"zoom, {args.frames:3d} frames   : {anim_s:7.2f} s  = {fps:.2f} frames/s ({size})")
    print(f"each later frame   : {per_frame:7.2f} s  = {per_frame / still_s:.2f}x a still dream")
    peaks = {}
    for frames in (16, 64):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", args.model, str(args.side), str(frames)],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        peaks[frames] = json.loads(out)["peak_mb"]
        print(f"peak memory, {frames:2d} frames: {peaks[frames]:7.0f} MB")
    print(f"64/16 frames peak memory ratio: {peaks[64] / peaks[16]:.2f}x (aim: ~1.0x)")


if __name__ == "__main__":
    main()
