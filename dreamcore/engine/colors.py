"""Original colours (neural-dream's `-original_colors`): the dream's luminance with the photo's
chroma, in YCbCr (ITU-R BT.601), on pixel tensors in 0..255."""

from __future__ import annotations

import torch
from torch import Tensor

_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)


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
