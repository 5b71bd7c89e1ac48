"""Colour on pixel tensors (0..255), in YCbCr (ITU-R BT.601):

- original colours (neural-dream's `-original_colors`): the dream's luminance with the photo's
  chroma;
- a palette kept: a picture given another's colour distribution, rank for rank (histogram
  matching), so a zoom's later frames keep the first frame's palette;
- and the measures that check it: mean saturation, and how much of the colour changed hue.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
HUE_SECTORS = 12  # 30° each: red, orange, yellow, ... as the eye names them


def to_ycbcr(rgb: Tensor) -> Tensor:
    """N x 3 x H x W RGB -> Y, Cb, Cr (Cb/Cr centred on 0)."""
    m = _TO_YCBCR.to(rgb.device, rgb.dtype)
    return torch.einsum("ij,njhw->nihw", m, rgb)


def to_rgb(ycbcr: Tensor) -> Tensor:
    m = torch.linalg.inv(_TO_YCBCR).to(ycbcr.device, ycbcr.dtype)
    return torch.einsum("ij,njhw->nihw", m, ycbcr)


def keep_original_colors(dreamed: Tensor, original: Tensor) -> Tensor:
    """The dream's brightness, the original's colours (same sizes: N x 3 x H x W, 0..255)."""
    y = to_ycbcr(dreamed)[:, :1]  # N x 1 x H x W
    chroma = to_ycbcr(original)[:, 1:]  # N x 2 x H x W
    return to_rgb(torch.cat([y, chroma], dim=1)).clamp(0.0, 255.0)


# The palette is matched along Y and along six directions of the chroma plane, 30° apart (a
# sliced histogram matching, after Pitié et al. 2005): matching Y, Cb and Cr each alone keeps their
# own spreads but not the hues (a zoom's green eye grew and the brown turned pink: 19% of the colour
# at another hue by frame 22 of docs/zoom.webp; at most 3% matched this way).
_CHROMA_DIRECTIONS = 6
_LEVELS = 1025  # quantiles of a palette kept
_BINS = 1024  # a frame's histogram, per direction


def _directions(device: torch.device, dtype: torch.dtype) -> Tensor:
    """7 x 3: luminance, then unit vectors across the Cb/Cr plane, in perpendicular pairs (each
    pair alone puts the mean right; the next pairs then shape the hues)."""
    turns = [0, 3, 1, 4, 2, 5]  # 0°, 90°, 30°, 120°, 60°, 150°
    angles = torch.tensor(turns, dtype=torch.float64) * math.pi / _CHROMA_DIRECTIONS
    chroma = torch.stack([torch.zeros_like(angles), angles.cos(), angles.sin()], dim=1)
    return torch.cat([torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64), chroma]).to(
        device, dtype
    )


def palette_of(rgb: Tensor) -> Tensor:
    """A picture's palette for `keep_palette`: the quantiles of its colours along each direction
    (7 x levels)."""
    ycc = to_ycbcr(rgb.float()).transpose(0, 1).reshape(3, -1)
    projected = (_directions(ycc.device, ycc.dtype) @ ycc).sort(dim=1).values
    at = torch.linspace(0, projected.shape[1] - 1, _LEVELS, device=ycc.device)
    lo = at.floor().long()
    hi = (lo + 1).clamp(max=projected.shape[1] - 1)
    return torch.lerp(projected[:, lo], projected[:, hi], at - lo)


def _match(values: Tensor, quantiles: Tensor) -> Tensor:
    """`values` (1-D) moved, keeping their order, so that their distribution has these quantiles:
    each value's rank (from a histogram: linear time) read off the quantile curve."""
    low, high = values.min(), values.max()
    span = (high - low).clamp(min=1e-6)
    counts = torch.histc(values, bins=_BINS, min=float(low), max=float(low + span))
    cdf = torch.cat([counts.new_zeros(1), counts.cumsum(0)]) / values.numel()
    position = (values - low) / span * _BINS
    bin_ = position.floor().long().clamp(0, _BINS - 1)
    level = torch.lerp(cdf[bin_], cdf[bin_ + 1], position - bin_) * (quantiles.numel() - 1)
    at = level.floor().long().clamp(0, quantiles.numel() - 2)
    return torch.lerp(quantiles[at], quantiles[at + 1], level - at)


def keep_palette(rgb: Tensor, palette: Tensor) -> Tensor:
    """`rgb` (N x 3 x H x W, 0..255) in `palette`'s colours: along each direction in turn, every
    pixel keeps its rank and takes the palette's value at that rank. The colour distribution
    (brightness, saturation, hues) becomes the palette's, while the structure stays the
    picture's: which pixel is brighter, or further along a hue, than which is unchanged."""
    n, _, h, w = rgb.shape
    directions = _directions(rgb.device, torch.float32)
    out = []
    for ycc in to_ycbcr(rgb.float()).reshape(n, 3, h * w):
        for direction, quantiles in zip(directions, palette, strict=True):
            along = direction @ ycc
            ycc = ycc + direction[:, None] * (_match(along, quantiles) - along)
        out.append(ycc)
    return to_rgb(torch.stack(out).reshape(n, 3, h, w)).clamp(0.0, 255.0).to(rgb.dtype)


def saturation(rgb: Tensor) -> float:
    """Mean HSV saturation, 0..1 ((max - min) / max of each pixel's channels)."""
    top, bottom = rgb.amax(dim=1), rgb.amin(dim=1)
    return float(((top - bottom) / top.clamp(min=1e-6)).mean())


def hue_shares(rgb: Tensor) -> Tensor:
    """How the colour spreads over the hue circle: each 30° sector's share of the chroma
    (greys count for nothing, vivid pixels most)."""
    r, g, b = rgb.double().unbind(dim=1)
    a, c = r - (g + b) / 2, math.sqrt(3) / 2 * (g - b)  # the chroma plane (opponent axes)
    hue = torch.atan2(c, a).remainder(2 * math.pi)
    sector = (hue / (2 * math.pi) * HUE_SECTORS).long().clamp(max=HUE_SECTORS - 1)
    shares = torch.zeros(HUE_SECTORS, dtype=torch.float64, device=rgb.device)
    shares.index_add_(0, sector.flatten(), torch.hypot(a, c).flatten())
    return shares / shares.sum().clamp(min=1e-12)


def hue_drift(rgb: Tensor, reference: Tensor) -> float:
    """The share of the colour (0..1) that sits at another hue than in `reference`."""
    return float((hue_shares(rgb) - hue_shares(reference)).abs().sum() / 2)
