"""Animations: frames per second of a zoom, each frame's cost against a still dream, peak memory
for 16 vs 64 frames (it must not grow with the frame count), whether a long zoom keeps its first
frame's palette, and temporal consistency, measured in one run.

    python benchmarks/bench_animate.py [--model inception5h] [--side 512] [--frames 16]
        [--palette-model vgg16-hed] [--palette-side 160] [--palette-frames 32]
        [--flicker-model vgg16-hed] [--flicker-side 256] [--flicker-frames 12] [--device cpu]
        [--only speed|palette|flicker]

Speed does not depend on the weights, so models whose weights can't be had here run with random
weights (said in the output). Memory is measured in fresh processes (peak RSS of each run).
Colours and flicker do depend on them (measured with trained weights only). The palette part
dreams the same zoom twice from one first frame, each later frame given the first one's palette
(the fix) and not (as before it), and prints per frame, side by side, the mean saturation and the
share of the colour at another hue than in frame 1 (the bound: within 10% of frame 1), and how
much frame k+1 is zoom(frame k). The flicker part dreams an animated upload (a photo panned a few
px a frame) with the previous dream carried along the optical flow against blended in place:
flicker and dream strength side by side.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from bench_common import PHOTO, dreamer_for  # first: it puts the project on sys.path
from PIL import Image, ImageSequence

from dreamcore.config import EngineConfig
from dreamcore.engine.animate import DreamFn, motion_of, warp, zoom_frames
from dreamcore.engine.colors import hue_drift, keep_palette, palette_of, saturation
from dreamcore.engine.compose import objective_for
from dreamcore.engine.deepdream import dream
from dreamcore.engine.dreamer import Dreamer
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.imageio import to_tensor
from dreamcore.errors import WeightsUnavailable
from dreamcore.imaging import decode_for_dream
from dreamcore.request import DreamParams, DreamRequest, make_params

BOUND = 0.10  # saturation and hue: within 10% of frame 1

PAN = 3  # px a frame of the panning clip


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


def frame_dreamer(dreamer: Dreamer, params: DreamParams) -> DreamFn:
    """Each frame dreamed as the Dreamer dreams it (precision, layout, tiles, seeded jitter)."""
    net, placement = dreamer.model(params.model), dreamer.placement
    gradient = Gradient(
        net,
        objective_for(params, net, total=lambda _: 1.0),
        tile_size=dreamer.config.tile_size,
        autocast=placement.autocast(),
        channels_last=placement.channels_last,
    )
    generator = torch.Generator().manual_seed(params.seed)
    return lambda pixels, p, _: dream(
        pixels, gradient, p, min_side=dreamer.config.min_side, generator=generator
    )


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.float().flatten().numpy(), b.float().flatten().numpy())[0, 1])


def measures(frames: list[torch.Tensor], k: int, params: DreamParams) -> tuple[float, ...]:
    """Frame k's saturation and its change from frame 1, the share of its colour at another hue,
    and its correlation with the last frame zoomed and with the last frame as it was."""
    sat = saturation(frames[k])
    change = sat / saturation(frames[0]) - 1
    hue = hue_drift(frames[k], frames[0])
    if k == 0:
        return sat, change, hue, 1.0, 1.0
    moved = corr(frames[k], warp(frames[k - 1], motion_of(params)))
    return sat, change, hue, moved, corr(frames[k], frames[k - 1])


def palette(model: str, side: int, count: int) -> None:
    dreamer, weights = dreamer_for(model, max_side_cap=4096)
    params = make_params(model=model, max_side=side, animate="zoom", frames=count, seed=1)
    pixels = to_tensor(decode_for_dream(PHOTO.read_bytes(), dreamer.config, side).rgb)
    runs, seconds = {}, {}
    for name, anchored in (("before", False), ("anchored", True)):  # the same first frame
        t0 = time.perf_counter()
        dream_fn = frame_dreamer(dreamer, params)
        runs[name] = list(zoom_frames(pixels, params, count, dream_fn, anchored=anchored))
        seconds[name] = time.perf_counter() - t0
    h, w = pixels.shape[-2:]
    print(
        f"\npalette over {count} frames: {model} ({weights}), {w}x{h}, zoom, seed 1; "
        "before the fix vs each later frame anchored to frame 1's palette"
    )
    print("sat: mean HSV saturation (change from frame 1); hue: share of the colour in another")
    print("30-degree hue sector than in frame 1; zoom: corr(frame k, zoom(frame k-1)) / corr with")
    print("frame k-1 unmoved (the zoom zooms while the first is well above the second)")
    print("frame |  sat before       anchored        | hue before anchored | zoom before  anchored")
    table = {
        name: [measures(frames, k, params) for k in range(count)] for name, frames in runs.items()
    }
    for k in range(count):
        if k % 4 == 0 or k == count - 1:
            b, a = table["before"][k], table["anchored"][k]
            print(
                f"{k + 1:5d} | {b[0]:.3f} ({b[1]:+6.1%})  {a[0]:.3f} ({a[1]:+6.1%})  | "
                f"{b[2]:6.1%} {a[2]:8.1%}    | {b[3]:.3f}/{b[4]:.3f} {a[3]:.3f}/{a[4]:.3f}"
            )
    for name, rows in table.items():
        sat, hue = max(abs(r[1]) for r in rows), max(r[2] for r in rows)
        verdict = "within" if max(sat, hue) <= BOUND else "OUTSIDE"
        print(
            f"worst of {count} frames, {name:<8}: saturation off by {sat:.1%}, hue {hue:.1%} "
            f"({verdict} the {BOUND:.0%} bound)"
        )
    frame, reference = runs["anchored"][-1], palette_of(runs["anchored"][0])
    t0 = time.perf_counter()
    for _ in range(5):
        keep_palette(frame, reference)
    step = (time.perf_counter() - t0) / 5
    per_frame = seconds["before"] / count
    print(
        f"the palette step: {step * 1000:.1f} ms a frame = {step / per_frame:.1%} of a frame's "
        f"dream ({per_frame:.2f} s a frame here, the first included)"
    )


def panning_clip(side: int, frames: int) -> bytes:
    """A window moving PAN px a frame across the photo (content moving left, nothing coming in
    at the edges), as a lossless animated WebP."""
    photo = Image.open(PHOTO).convert("RGB")
    h = round(side * photo.height / photo.width)
    big = photo.resize((round(photo.width * h / photo.height) + PAN * frames, h))
    window = [big.crop((k * PAN, 0, k * PAN + side, h)) for k in range(frames)]
    buf = io.BytesIO()
    window[0].save(buf, "WEBP", save_all=True, append_images=window[1:], duration=80, lossless=True)
    return buf.getvalue()


def frames_of(data: bytes) -> list[torch.Tensor]:
    with Image.open(io.BytesIO(data)) as im:
        return [to_tensor(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def along_motion(frames: list[torch.Tensor]) -> float:
    """Mean |frame k+1 - frame k moved with the picture| (0..255): what changes beyond the
    motion (the clip itself: 0)."""
    pairs = itertools.pairwise(frames)
    return float(np.mean([(b[..., :-PAN] - a[..., PAN:]).abs().mean() for a, b in pairs]))


def frame_to_frame(frames: list[torch.Tensor]) -> float:
    pairs = itertools.pairwise(frames)
    return float(np.mean([(b - a).abs().mean() for a, b in pairs]))


def flicker(model: str, side: int, frames: int, device: str) -> None:
    """flow vs blend on the same panning clip, the bot's default settings otherwise."""
    dreamer = Dreamer(EngineConfig(models=(model,), device=device, offline=True))
    try:
        dreamer.model(model)
    except WeightsUnavailable:
        print(f"flicker: skipped, {model}'s trained weights aren't on this machine")
        return
    clip = panning_clip(side, frames)
    inputs = frames_of(clip)
    rows: dict[str, list[str]] = {}
    for temporal in ("flow", "blend"):
        params = make_params(model=model, max_side=side, temporal=temporal, seed=1)
        t0 = time.perf_counter()
        result = dreamer.run(DreamRequest(image=clip, params=params))
        seconds = time.perf_counter() - t0
        out = frames_of(result.image)
        change = [float((d - i).abs().mean()) for d, i in zip(out, inputs, strict=True)]
        later = float(np.mean(change[1:]))
        moving = along_motion(out)
        for name, value in (
            ("flicker along the motion", f"{moving:6.2f}"),
            ("  per unit of dream", f"{moving / later:6.2f}"),
            ("frame-to-frame / input's", f"{frame_to_frame(out) / frame_to_frame(inputs):5.2f}x"),
            ("strength, frame 0", f"{change[0]:6.1f}"),
            ("strength, later frames", f"{later:6.1f}"),
            ("strength, last frame", f"{change[-1]:6.1f}"),
            ("seconds", f"{seconds:6.1f}"),
        ):
            rows.setdefault(name, []).append(value)
    w, h = inputs[0].shape[-1], inputs[0].shape[-2]
    print(
        f"\npanning clip: {frames} frames of {w}x{h}, {PAN} px a frame; {model} (trained), "
        f"{params.target}, {device}; measured on the WebP sent (quality 85)"
    )
    print(f"{'':26s} {'flow':>8s} {'blend':>8s}")
    for name, (flow, blend) in rows.items():
        print(f"{name:26s} {flow:>8s} {blend:>8s}")
    print(
        f"(the clip's own change along the motion: {along_motion(inputs):.2f}; strength is "
        "mean |dream - input|, 0..255)"
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
    p.add_argument("--palette-model", default="vgg16-hed")
    p.add_argument("--palette-side", type=int, default=160)
    p.add_argument("--palette-frames", type=int, default=32)
    p.add_argument("--flicker-model", default="vgg16-hed")
    p.add_argument("--flicker-side", type=int, default=256)
    p.add_argument("--flicker-frames", type=int, default=12)
    p.add_argument("--device", default="cpu", help="for the flicker measurement")
    p.add_argument("--only", choices=("speed", "palette", "flicker"), default=None)
    args = p.parse_args()
    if args.only in (None, "palette"):
        palette(args.palette_model, args.palette_side, args.palette_frames)
    if args.only in (None, "flicker"):
        flicker(args.flicker_model, args.flicker_side, args.flicker_frames, args.device)
    if args.only in ("palette", "flicker"):
        return
    dreamer, weights = dreamer_for(args.model, max_side_cap=4096)
    base = dict(model=args.model, max_side=args.side)
    timed(dreamer, **base, octaves=1, steps=1)  # warm up kernels
    still_s, still = timed(dreamer, **base)
    anim_s, anim = timed(dreamer, **base, animate="zoom", frames=args.frames)
    per_frame = (anim_s - still_s) / max(1, args.frames - 1)  # frame 0 is a full still dream
    print(
        f"{args.model} ({weights}), {still.width}x{still.height}, defaults: 4 octaves x 10 "
        f"steps; later frames: 2 octaves x 5 steps"
    )
    print(f"still dream        : {still_s:7.2f} s")
    size = f"{len(anim.image) / 1024:.0f} KiB animated {anim.format}"
    fps = args.frames / anim_s
    print(f"zoom, {args.frames:3d} frames   : {anim_s:7.2f} s  = {fps:.2f} frames/s ({size})")
    print(f"each later frame   : {per_frame:7.2f} s  = {per_frame / still_s:.2f}x a still dream")
    peaks = {}
    for frames in (16, 64):
        out = (
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--memory-child",
                    args.model,
                    str(args.side),
                    str(frames),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        peaks[frames] = json.loads(out)["peak_mb"]
        print(f"peak memory, {frames:2d} frames: {peaks[frames]:7.0f} MB")
    print(f"64/16 frames peak memory ratio: {peaks[64] / peaks[16]:.2f}x (aim: ~1.0x)")


if __name__ == "__main__":
    main()
