"""How many frames a request makes: the one answer the bot prices and the worker makes.

Plain data only (no torch, no Pillow): the bot asks before the dream to know its price, the
worker asks again to know what to make, and both get the same number from the same inputs.
"""

from __future__ import annotations

from dreamcore.config import EngineConfig
from dreamcore.request import DreamParams

DEFAULT_ZOOM_FRAMES = 16


def frames_made(
    params: DreamParams, *, upload_frames: int, pixels: int, engine: EngineConfig
) -> int:
    """The frames a dream of an image with `upload_frames` frames makes (1: a still).

    A motion (`animate`) moves into the upload's first frame: `frames` of them (16 unless asked),
    however many the upload has. An animated upload without one is dreamed frame by frame: all
    its frames, or `frames` at most (evenly sampled). Either way under the engine's frame cap,
    and frames x `pixels` (one frame's, at the size it is dreamed) under its pixel budget;
    never fewer than 2. `pixels` 0: not known yet (an estimate before the image is fetched).
    """
    if params.animate:
        wanted = params.frames or DEFAULT_ZOOM_FRAMES
    elif upload_frames > 1:
        wanted = min(upload_frames, params.frames or upload_frames)
    else:
        return 1
    by_pixels = engine.max_animation_pixels // max(1, pixels)
    return max(2, min(wanted, engine.max_animation_frames, by_pixels))
