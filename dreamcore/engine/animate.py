"""Animated dreams, frame by frame: the endless zoom, and dreaming an animated upload.

Zoom (google/deepdream's notebook, pytorch-deepdream's "ouroboros"): frame 0 is a normal dream;
each next frame is the previous dreamed frame moved a little (zoom, spin, pan) and dreamed again
with a small step budget, because the detail carries over, then given the first frame's palette
(each dream on top of a dream saturates the colours a little more: by frame ~10 they are violet
and green). Animated input: each frame is dreamed, blended first with the previous dreamed frame
so the dream does not flicker.

Frames are generators of pixel tensors (1 x 3 x H x W, 0..255): the caller encodes each one as it
comes and drops it, so memory does not grow with the number of frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamcore.engine.colors import keep_palette, palette_of
from dreamcore.engine.temporal import next_start
from dreamcore.request import DreamParams

DreamFn = Callable[[Tensor, DreamParams, int], Tensor]  # pixels, params, frame index -> dreamed


@dataclass(frozen=True)
class Motion:
    zoom: float = 1.0  # > 1 moves in
    rotate: float = 0.0  # degrees per frame, counter-clockwise
    pan: float = 0.0  # pixels per frame, content moving left


MOTIONS = {
    "zoom": Motion(zoom=1.04),  # ~4% per frame, as in pytorch-deepdream's ouroboros
    "spin": Motion(zoom=1.04, rotate=1.5),
    "pan": Motion(pan=2.0),
}


def motion_of(params: DreamParams) -> Motion:
    base = MOTIONS[params.animate or "zoom"]
    return Motion(
        zoom=base.zoom if params.zoom is None else params.zoom,
        rotate=base.rotate if params.rotate is None else params.rotate,
        pan=base.pan if params.pan is None else float(params.pan),
    )


def warp(frame: Tensor, motion: Motion) -> Tensor:
    """Move the picture by one frame of `motion`, about its centre (1 x 3 x H x W -> same)."""
    _, _, h, w = frame.shape
    a = math.radians(motion.rotate)
    # Output pixel -> input pixel: shrink by the zoom, rotate back, shift by the pan.
    m = (
        torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=torch.float64)
        / motion.zoom
    )
    d = torch.tensor([[w / 2, 0.0], [0.0, h / 2]], dtype=torch.float64)  # normalised -> pixels
    theta = torch.zeros(1, 2, 3, dtype=torch.float64)
    theta[0, :, :2] = torch.linalg.inv(d) @ m @ d
    theta[0, 0, 2] = motion.pan / (w / 2)
    grid = F.affine_grid(theta.to(frame.dtype), list(frame.shape), align_corners=False)
    return F.grid_sample(
        frame,
        grid.to(frame.device),
        mode="bilinear",
        padding_mode="reflection",
        align_corners=False,
    )


def frame_params(params: DreamParams) -> DreamParams:
    """The budget of each frame after the first: the full-size octave (and the one below),
    `frame_steps` steps."""
    return params.model_copy(
        update={"octaves": min(2, params.octaves), "steps": params.frame_steps}
    )


def zoom_frames(
    pixels: Tensor, params: DreamParams, frames: int, dream: DreamFn, *, anchored: bool = True
) -> Iterator[Tensor]:
    """`frames` frames: a full dream, then move-and-dream-again, each later frame in the first
    one's palette (`anchored`; off only to measure the drift it prevents)."""
    motion, budget = motion_of(params), frame_params(params)
    frame = dream(pixels, params, 0)
    palette = palette_of(frame)
    yield frame
    for index in range(1, frames):
        frame = dream(warp(frame, motion), budget, index)
        if anchored:
            frame = keep_palette(frame, palette)
        yield frame


def input_frames(frames: Iterable[Tensor], params: DreamParams, dream: DreamFn) -> Iterator[Tensor]:
    """Each frame of an animated upload (or video) dreamed; from the second on, the frame starts
    with the previous frame's dream carried over (along the motion, or blended: `next_start`)
    so the dream holds still."""
    previous: tuple[Tensor, Tensor] | None = None  # the last frame and its dream
    budget = frame_params(params)
    for index, frame in enumerate(frames):
        start = frame if previous is None else next_start(frame, *previous, params)
        dreamed = dream(start, params if index == 0 else budget, index)
        previous = (frame, dreamed)
        yield dreamed
