"""d objective / d pixels of a FeatureNet, for the whole image or tile by tile.

Large images get their gradient in tiles (each with a context margin, aligned to the network's
stride) so that memory is bounded by the tile size; the random roll of every ascent step moves
the tile borders, so no seams appear.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.objectives import Objective

if TYPE_CHECKING:
    from dreamcore.engine.batching import StepBatcher

TILE_ALIGN = 32  # the deepest stride of our networks: tiles start on multiples of it


def tile_spans(length: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Along one axis: (context_start, context_end, core_start, core_end) per tile."""
    if length <= tile + 2 * margin:
        return [(0, length, 0, length)]
    step = max(TILE_ALIGN, tile // TILE_ALIGN * TILE_ALIGN)
    spans = []
    for core_start in range(0, length, step):
        core_end = min(core_start + step, length)
        spans.append(
            (max(0, core_start - margin), min(length, core_end + margin), core_start, core_end)
        )
    return spans


class Gradient:
    """Callable: pixels (1 x 3 x H x W) -> d objective / d pixels, same shape."""

    def __init__(
        self,
        net: FeatureNet,
        objective: Objective,
        *,
        tile_size: int = 512,
        tile_margin: int = 32,
        autocast: Callable[[], AbstractContextManager] = nullcontext,
        channels_last: bool = False,
        batcher: StepBatcher | None = None,
    ) -> None:
        self.net = net
        self.objective = objective
        self.tile_size = tile_size
        self.tile_margin = tile_margin
        self.autocast = autocast
        self.channels_last = channels_last
        self.batcher = batcher  # set: each tile's gradient is computed in a batch with others

    def _tile_grad(self, crop: Tensor) -> Tensor:
        if self.batcher is not None:
            return self.batcher.gradient(self, crop)
        x = crop.detach().clone()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)
        with self.autocast():
            acts = self.net(x, self.objective.layers)
        self.objective.loss(acts).backward()  # parameters are frozen: only x gets a gradient
        assert x.grad is not None  # backward() filled it: x requires a gradient
        return x.grad

    def __call__(self, image: Tensor) -> Tensor:
        _, _, h, w = image.shape
        grad = torch.zeros_like(image)
        for y0, y1, cy0, cy1 in tile_spans(h, self.tile_size, self.tile_margin):
            for x0, x1, cx0, cx1 in tile_spans(w, self.tile_size, self.tile_margin):
                g = self._tile_grad(image[:, :, y0:y1, x0:x1])  # 1 x 3 x th x tw
                grad[:, :, cy0:cy1, cx0:cx1] = g[:, :, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        return grad

    def objective_value(self, image: Tensor) -> float:
        """The objective's mean over the image (the classic "mean of squared activations")."""
        total, count = self._measure(image)
        return total / max(count, 1)

    def objective_total(self, image: Tensor) -> float:
        """The objective's sum over the image: what the ascent maximises."""
        return self._measure(image)[0]

    @torch.no_grad()
    def _measure(self, image: Tensor) -> tuple[float, int]:
        """(sum, count) over the image, in tiles without margins (no gradient)."""
        _, _, h, w = image.shape
        total, count = 0.0, 0
        for y0, y1, _, _ in tile_spans(h, self.tile_size, 0):
            for x0, x1, _, _ in tile_spans(w, self.tile_size, 0):
                with self.autocast():
                    acts = self.net(image[:, :, y0:y1, x0:x1], self.objective.layers)
                total += float(self.objective.loss(acts))
                count += self.objective.count(acts)
        return total, count
