"""Local response normalisation as inception5h uses it (size 9, beta 0.5), fast on CPU.

y = x * (k + alpha * s)^-1/2, where s averages x^2 over the 9 neighbouring channels (zeros beyond
the edges), exactly F.local_response_norm(x, size=9, alpha, beta=0.5, k). Two choices make it
cheap: the channel window is a 1x1 convolution with a band matrix (torch's avg_pool3d is several
times slower on CPU, and LRN was ~40% of a dream's time), and the backward is written out, with
alpha and k folded into the convolution: fewer memory passes than autograd's chain of
mul/pow/add, and no fractional pow (~7% of a bf16 gradient step, measured on mixed4c).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 9, 9.99999974738e-05, 0.5, 1.0


@functools.lru_cache(maxsize=16)
def _band(channels: int, scale: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    """C x C x 1 x 1: `scale` times the mean over the 9 neighbouring channels; symmetric, so it is
    also its own transpose (the backward's window)."""
    idx = torch.arange(channels)
    band = ((idx[:, None] - idx[None, :]).abs() <= LRN_SIZE // 2).double() * (scale / LRN_SIZE)
    return band.to(device, dtype)[:, :, None, None]


@functools.lru_cache(maxsize=16)
def _k(channels: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.full((channels,), LRN_K, device=device, dtype=dtype)


class _LRN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # N x C x H x W
        c = x.shape[1]
        # (k + alpha * s): alpha rides in the band, k in the bias, so the convolution makes it
        norm = F.conv2d(x * x, _band(c, LRN_ALPHA, x.device, x.dtype), _k(c, x.device, x.dtype))
        d = norm.rsqrt_()  # (k + alpha s)^-1/2
        ctx.save_for_backward(x, d)
        return x * d

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        # dx = d * grad + x * B^T (grad * x * 2 dd/ds), with 2 dd/ds = -alpha * d^3
        x, d = ctx.saved_tensors
        t = (grad * x).mul_(d.pow(3))
        back = F.conv2d(t, _band(x.shape[1], -LRN_ALPHA, x.device, x.dtype))  # band symmetric
        return torch.addcmul(grad * d, back, x)


def lrn(x: Tensor) -> Tensor:
    """Same result as F.local_response_norm(x, 9, alpha, 0.5, 1), forward and backward."""
    return _LRN.apply(x)


def lrn_reference(x: Tensor) -> Tensor:
    """torch's own LRN, as the published port runs it (the benchmark's baseline, and tests)."""
    return F.local_response_norm(x, size=LRN_SIZE, alpha=LRN_ALPHA, beta=LRN_BETA, k=LRN_K)
