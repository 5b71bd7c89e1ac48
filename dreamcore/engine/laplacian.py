"""Laplacian-pyramid normalisation of a gradient (the TensorFlow DeepDream tutorial's
`lap_normalize`): split it into frequency bands, give each band unit RMS, merge back. Low
frequencies then count as much as fine detail: smoother, more colourful dreams."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor


@functools.lru_cache(maxsize=8)
def _kernel(channels: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    k = torch.outer(k1, k1) / 256.0  # 5 x 5 binomial, sums to 1
    return k.expand(channels, 1, 5, 5).contiguous().to(device, dtype)  # C x 1 x 5 x 5


def _down(x: Tensor) -> Tensor:
    return F.conv2d(
        x, _kernel(x.shape[1], x.device, x.dtype), stride=2, padding=2, groups=x.shape[1]
    )


def _up(x: Tensor, size: tuple[int, int]) -> Tensor:
    k = _kernel(x.shape[1], x.device, x.dtype) * 4  # the zeros between samples carry no weight
    # a stride-2 transposed 5x5 with padding 2 gives 2n - 1; output_padding makes up the rest
    out_pad = (size[0] - (2 * x.shape[2] - 1), size[1] - (2 * x.shape[3] - 1))
    return F.conv_transpose2d(x, k, stride=2, padding=2, output_padding=out_pad, groups=x.shape[1])


def split(x: Tensor, levels: int) -> list[Tensor]:
    """N x C x H x W -> [coarsest, ..., finest band]; merge() inverts it exactly."""
    bands = []
    for _ in range(levels):
        if min(x.shape[-2:]) < 2:
            break
        low = _down(x)
        bands.append(x - _up(low, (x.shape[-2], x.shape[-1])))
        x = low
    return [x, *reversed(bands)]


def merge(bands: list[Tensor]) -> Tensor:
    x = bands[0]
    for band in bands[1:]:
        x = _up(x, (band.shape[-2], band.shape[-1])) + band
    return x


def normalize(grad: Tensor, levels: int, eps: float = 1e-10) -> Tensor:
    """Each band of the gradient scaled to unit RMS (levels = 0: unchanged)."""
    if levels <= 0:
        return grad
    bands = split(grad, levels)
    return merge([b / b.pow(2).mean().sqrt().clamp_min(eps) for b in bands])
