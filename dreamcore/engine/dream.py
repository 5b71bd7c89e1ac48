"""The DeepDream algorithm: octaves with detail carried up, roll jitter, normalised gradient ascent.

Pure torch on tensors of RGB pixels in 0..255 (1 x 3 x H x W). Gradients of large images are
computed in tiles (with a context margin, aligned to the network's stride) so memory is bounded by
the tile size; the random roll applied at every step moves the tile borders so no seams appear.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.objectives import LayerObjective
from dreamcore.errors import DreamCancelled

TILE_ALIGN = 32  # the deepest stride of our networks: tiles start on multiples of it


@dataclass(frozen=True)
class DreamConfig:
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    strength: float = 1.5  # pixel units (0..255) per step, after dividing by mean |gradient|
    jitter: int = 32
    tile_size: int = 512
    tile_margin: int = 32  # context around each tile, so tile borders see real neighbours
    min_side: int = 32  # octaves smaller than this are skipped


StepCallback = Callable[[int, int, int, int, Tensor], None]  # octave, octaves, step, steps, image


def octave_sizes(height: int, width: int, octaves: int, scale: float, min_side: int) -> list[tuple[int, int]]:
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


def tile_spans(length: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Along one axis: (context_start, context_end, core_start, core_end) per tile."""
    if length <= tile + 2 * margin:
        return [(0, length, 0, length)]
    step = max(TILE_ALIGN, tile // TILE_ALIGN * TILE_ALIGN)
    spans = []
    for core_start in range(0, length, step):
        core_end = min(core_start + step, length)
        spans.append((max(0, core_start - margin), min(length, core_end + margin), core_start, core_end))
    return spans


class Gradient:
    """d objective / d pixels of a FeatureNet, computed whole or in tiles."""

    def __init__(self, net: FeatureNet, objective: LayerObjective, *, tile_size: int = 512,
                 tile_margin: int = 32, autocast: Callable[[], AbstractContextManager] = nullcontext,
                 channels_last: bool = False) -> None:
        self.net = net
        self.objective = objective
        self.tile_size = tile_size
        self.tile_margin = tile_margin
        self.autocast = autocast
        self.channels_last = channels_last

    def _tile_grad(self, crop: Tensor) -> Tensor:
        x = crop.detach().clone()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)
        with self.autocast():
            acts = self.net(x, self.objective.layers)
        self.objective.loss(acts).backward()  # parameters are frozen: only x gets a gradient
        return x.grad

    def __call__(self, image: Tensor) -> Tensor:
        _, _, h, w = image.shape
        grad = torch.zeros_like(image)
        for y0, y1, cy0, cy1 in tile_spans(h, self.tile_size, self.tile_margin):
            for x0, x1, cx0, cx1 in tile_spans(w, self.tile_size, self.tile_margin):
                g = self._tile_grad(image[:, :, y0:y1, x0:x1])  # 1 x 3 x th x tw
                grad[:, :, cy0:cy1, cx0:cx1] = g[:, :, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        return grad

    @torch.no_grad()
    def objective_value(self, image: Tensor) -> float:
        """Mean of squared activations over the image (in tiles without margins; no gradient)."""
        _, _, h, w = image.shape
        total, count = 0.0, 0
        for y0, y1, _, _ in tile_spans(h, self.tile_size, 0):
            for x0, x1, _, _ in tile_spans(w, self.tile_size, 0):
                with self.autocast():
                    acts = self.net(image[:, :, y0:y1, x0:x1], self.objective.layers)
                total += float(self.objective.loss(acts))
                count += self.objective.count(acts)
        return total / max(count, 1)


def dream(image: Tensor, gradient: Callable[[Tensor], Tensor], config: DreamConfig, *,
          generator: torch.Generator | None = None, on_step: StepCallback | None = None,
          should_stop: Callable[[], bool] | None = None) -> Tensor:
    """DeepDream `image` (1 x 3 x H x W, 0..255). Returns a new tensor of the same size."""
    _, _, height, width = image.shape
    sizes = octave_sizes(height, width, config.octaves, config.octave_scale, config.min_side)
    detail = torch.zeros_like(resize(image, sizes[0]))
    img = image
    for octave, size in enumerate(sizes, start=1):
        base = resize(image, size)  # each octave's base comes from the original, not a re-zoom
        img = base + resize(detail, size)
        for step in range(1, config.steps + 1):
            if should_stop is not None and should_stop():
                raise DreamCancelled("The dream was cancelled.")
            img = ascent_step(img, gradient, config, generator)
            if on_step is not None:
                on_step(octave, len(sizes), step, config.steps, img)
        detail = img - base  # carry only what the dream added up to the next octave
    return img


def ascent_step(img: Tensor, gradient: Callable[[Tensor], Tensor], config: DreamConfig,
                generator: torch.Generator | None) -> Tensor:
    """One step: roll by a random offset, normalised gradient ascent, clip, roll back."""
    dy, dx = (_randint(config.jitter, generator) for _ in range(2))
    rolled = torch.roll(img, shifts=(dy, dx), dims=(2, 3))
    g = gradient(rolled)
    g = g / (g.abs().mean() + 1e-8)
    rolled = (rolled + config.strength * g).clamp_(0.0, 255.0)
    return torch.roll(rolled, shifts=(-dy, -dx), dims=(2, 3))


def _randint(jitter: int, generator: torch.Generator | None) -> int:
    if jitter <= 0:
        return 0
    return int(torch.randint(-jitter, jitter + 1, (1,), generator=generator))


def effective_octaves(height: int, width: int, config: DreamConfig) -> int:
    return len(octave_sizes(height, width, config.octaves, config.octave_scale, config.min_side))


