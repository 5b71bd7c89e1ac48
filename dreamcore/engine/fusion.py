"""Merging layers that frozen inference makes redundant: same outputs up to rounding, less work.

Done once per model, after its weights are loaded (FeatureNet.fold_for_inference) and before they
are cast to the working dtype, so the merged weights are computed in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Make `conv` compute bn(conv(x)): with frozen statistics the norm is a per-channel affine
    map, so it scales the kernels per output channel and shifts by a bias."""
    mean, var = bn.running_mean, bn.running_var
    if mean is None or var is None:
        raise ValueError("only a norm that tracks running statistics folds into its convolution")
    scale = bn.weight / torch.sqrt(var + bn.eps)  # C_out
    bias = bn.bias - mean * scale
    if conv.bias is not None:
        bias += conv.bias * scale
    conv.weight.mul_(scale[:, None, None, None])  # C_out x C_in x kh x kw
    conv.bias = nn.Parameter(bias, requires_grad=False)


class PointwiseGroup(nn.Module):
    """Sibling 1x1 convolutions of one input (an inception block's 1x1 branch and its 3x3 and 5x5
    bottlenecks) run as one: one wider matrix product instead of three narrow ones, and in the
    backward one gradient for the input instead of three that are then summed."""

    def __init__(self, convs: list[nn.Conv2d]) -> None:
        super().__init__()
        assert all(c.kernel_size == (1, 1) and c.stride == (1, 1) for c in convs)
        self.splits = [c.out_channels for c in convs]
        weight = torch.cat([c.weight for c in convs])  # sum(C_out) x C_in x 1 x 1
        bias = torch.cat(
            [c.bias if c.bias is not None else c.weight.new_zeros(c.out_channels) for c in convs]
        )
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        # N x C_in x H x W -> one N x C_out_i x H x W view per original convolution
        return F.conv2d(x, self.weight, self.bias).split(self.splits, dim=1)
