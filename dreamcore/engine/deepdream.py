"""The DeepDream algorithm: octaves with detail carried up, roll jitter, normalised gradient ascent.

Pure torch on tensors of RGB pixels in 0..255 (1 x 3 x H x W). The knobs are the request's own
`DreamParams` (octaves, octave_scale, steps, strength, jitter); the gradient comes in as a callable
(`dreamcore.engine.gradient.Gradient`: whole image or tiled).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamcore.engine import laplacian
from dreamcore.errors import DreamCancelled
from dreamcore.request import DreamParams

GradientFn = Callable[[Tensor], Tensor]
StepCallback = Callable[[int, int, int, int, Tensor], None]  # octave, octaves, step, steps, image


def octave_sizes(
    height: int, width: int, octaves: int, scale: float, min_side: int
) -> list[tuple[int, int]]:
    """(h, w) per octave, smallest first, ending with the full size; too-small octaves dropped."""
    sizes = []
    for i in reversed(range(octaves)):
        h, w = round(height / scale**i), round(width / scale**i)
        if min(h, w) >= min_side or i == 0:
            sizes.append((h, w))
    return sizes


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def dream(
    image: Tensor,
    gradient: GradientFn,
    params: DreamParams,
    *,
    min_side: int = 32,
    generator: torch.Generator | None = None,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Tensor:
    """DeepDream `image` (1 x 3 x H x W, 0..255). Returns a new tensor of the same size.

    Octaves whose short side would be under `min_side` are skipped (too small for the network).
    """
    _, _, height, width = image.shape
    sizes = octave_sizes(height, width, params.octaves, params.octave_scale, min_side)
    detail = torch.zeros_like(resize(image, sizes[0]))
    img = image
    for octave, size in enumerate(sizes, start=1):
        base = resize(image, size)  # each octave's base comes from the original, not a re-zoom
        img = base + resize(detail, size)
        for step in range(1, params.steps + 1):
            if should_stop is not None and should_stop():
                raise DreamCancelled("The dream was cancelled.")
            img = ascent_step(img, gradient, params, generator)
            if on_step is not None:
                on_step(octave, len(sizes), step, params.steps, img)
        detail = img - base  # carry only what the dream added up to the next octave
    return img


def ascent_step(
    img: Tensor, gradient: GradientFn, params: DreamParams, generator: torch.Generator | None
) -> Tensor:
    """One step: roll by a random offset, normalised gradient ascent, clip, roll back."""
    dy, dx = (_randint(params.jitter, generator) for _ in range(2))
    rolled = torch.roll(img, shifts=(dy, dx), dims=(2, 3))
    g = gradient(rolled)
    g = laplacian.normalize(g, params.smooth)  # smooth > 0: every frequency band counts alike
    g = g / (g.abs().mean() + 1e-8)
    rolled = (rolled + params.strength * g).clamp_(0.0, 255.0)
    return torch.roll(rolled, shifts=(-dy, -dx), dims=(2, 3))


def _randint(jitter: int, generator: torch.Generator | None) -> int:
    if jitter <= 0:
        return 0
    return int(torch.randint(-jitter, jitter + 1, (1,), generator=generator))


def effective_octaves(height: int, width: int, params: DreamParams, min_side: int) -> int:
    return len(octave_sizes(height, width, params.octaves, params.octave_scale, min_side))
