"""InceptionV1 as in Google's inception5h graph (the classic DeepDream network), in PyTorch.

Parameter names follow the published `inception5h.pth` state dict exactly (flat attributes
`<layer>_pre_relu_conv`), so that file loads with strict=True
(tests/data/inception5h_state_dict.json lists its tensors). TF "SAME" padding: an explicit pad where
it is uneven (conv2d0), the layers' own padding elsewhere, ceil-mode pooling for the stride-2 pools.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dreamcore.catalog import (
    BRANCHES,
    INCEPTION5H_BLOCKS,
    INCEPTION5H_CLASSES,
    INCEPTION5H_POOL_BEFORE,
    LOGITS,
    block_branch_widths,
)
from dreamcore.engine.featurenet import Emit, FeatureNet, Preprocess
from dreamcore.engine.fusion import PointwiseGroup
from dreamcore.engine.lrn import lrn, lrn_reference

POINTWISE = ("1x1", "3x3_bottleneck", "5x5_bottleneck")  # a mixed block's 1x1 convs of its input


def _maxpool_s2(x: Tensor) -> Tensor:
    # The graph's 3x3/2 pool: an extra row/column of -inf at the bottom/right, which is what
    # ceil_mode does (same windows, odd or even sizes) without copying x into a padded tensor.
    return F.max_pool2d(x, kernel_size=3, stride=2, ceil_mode=True)


class Inception5h(FeatureNet):
    def __init__(self, fast_lrn: bool = True) -> None:
        super().__init__()
        self.lrn = lrn if fast_lrn else lrn_reference
        self.preprocess = Preprocess(mean=(117.0, 117.0, 117.0))
        self.conv2d0_pre_relu_conv = nn.Conv2d(3, 64, 7, stride=2)
        self.conv2d1_pre_relu_conv = nn.Conv2d(64, 64, 1)
        self.conv2d2_pre_relu_conv = nn.Conv2d(64, 192, 3, padding=1)  # TF SAME: 1 all round
        in_ch = 192
        for block, widths in INCEPTION5H_BLOCKS.items():
            w = block_branch_widths(widths)
            self._conv(f"{block}_1x1", in_ch, w["1x1"], 1)
            self._conv(f"{block}_3x3_bottleneck", in_ch, w["3x3_bottleneck"], 1)
            self._conv(f"{block}_5x5_bottleneck", in_ch, w["5x5_bottleneck"], 1)
            self._conv(f"{block}_pool_reduce", in_ch, w["pool_reduce"], 1)
            self._conv(f"{block}_3x3", w["3x3_bottleneck"], w["3x3"], 3)
            self._conv(f"{block}_5x5", w["5x5_bottleneck"], w["5x5"], 5)
            in_ch = w["1x1"] + w["3x3"] + w["5x5"] + w["pool_reduce"]
        # The classifier (softmax2's pre-activation): the `logits` layer, for class targets.
        self.softmax2_pre_activation_matmul = nn.Linear(1024, INCEPTION5H_CLASSES)
        self._stages = self._build_stages()

    def _conv(self, name: str, cin: int, cout: int, k: int) -> None:
        setattr(self, f"{name}_pre_relu_conv", nn.Conv2d(cin, cout, k, padding=k // 2))

    def fold_for_inference(self) -> None:
        # Once loaded (the state dict names the convolutions one by one): each block's three 1x1
        # convolutions of its input become one. Measured ~7% of a bf16 gradient step.
        for block in INCEPTION5H_BLOCKS:
            names = [f"{block}_{branch}_pre_relu_conv" for branch in POINTWISE]
            self.add_module(f"{block}_pointwise", PointwiseGroup([getattr(self, n) for n in names]))
            for name in names:
                delattr(self, name)

    def _relu(self, name: str, pre: Tensor, emit: Emit) -> Tensor:
        emit(f"{name}_pre_relu", pre)
        out = F.relu(pre)
        emit(name, out)
        return out

    def _conv_relu(self, name: str, x: Tensor, emit: Emit) -> Tensor:
        return self._relu(name, getattr(self, f"{name}_pre_relu_conv")(x), emit)

    def _pointwise(self, block: str, x: Tensor, emit: Emit) -> list[Tensor]:
        """The 1x1 branch and the 3x3 and 5x5 bottlenecks, after their relus."""
        names = [f"{block}_{branch}" for branch in POINTWISE]
        group = getattr(self, f"{block}_pointwise", None)
        if group is None:  # not folded (the published layout, as loaded)
            return [self._conv_relu(name, x, emit) for name in names]
        return [self._relu(name, pre, emit) for name, pre in zip(names, group(x), strict=True)]

    def _stem(self, x: Tensor, emit: Emit) -> Tensor:
        x = self._conv_relu("conv2d0", F.pad(x, (2, 3, 2, 3)), emit)
        x = _maxpool_s2(x)
        emit("maxpool0", x)
        x = self.lrn(x)
        emit("localresponsenorm0", x)
        x = self._conv_relu("conv2d1", x, emit)
        x = self._conv_relu("conv2d2", x, emit)
        x = self.lrn(x)
        emit("localresponsenorm1", x)
        x = _maxpool_s2(x)
        emit("maxpool1", x)
        return x

    def _mixed(self, block: str, x: Tensor, emit: Emit) -> Tensor:
        # N x C x H x W in; four branches concatenated on C, in the graph's order.
        b1, bottleneck3, bottleneck5 = self._pointwise(block, x, emit)
        b3 = self._conv_relu(f"{block}_3x3", bottleneck3, emit)
        b5 = self._conv_relu(f"{block}_5x5", bottleneck5, emit)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)  # pads with -inf, as TF SAME
        emit(f"{block}_pool", pooled)
        bp = self._conv_relu(f"{block}_pool_reduce", pooled, emit)
        out = torch.cat((b1, b3, b5, bp), dim=1)
        emit(block, out)
        return out

    def _build_stages(self):
        stem_names = (
            "conv2d0_pre_relu",
            "conv2d0",
            "maxpool0",
            "localresponsenorm0",
            "conv2d1_pre_relu",
            "conv2d1",
            "conv2d2_pre_relu",
            "conv2d2",
            "localresponsenorm1",
            "maxpool1",
        )
        stages = [(stem_names, self._stem)]
        for block in INCEPTION5H_BLOCKS:
            if block in INCEPTION5H_POOL_BEFORE:
                stages.append(
                    ((INCEPTION5H_POOL_BEFORE[block],), _named_pool(INCEPTION5H_POOL_BEFORE[block]))
                )
            names = (
                *(f"{block}_{b}{suffix}" for b in BRANCHES for suffix in ("_pre_relu", "")),
                f"{block}_pool",
                block,
            )
            stages.append((names, _mixed_stage(self, block)))
        stages.append(((LOGITS,), self._logits))
        return stages

    def _logits(self, x: Tensor, emit: Emit) -> Tensor:
        # TF's avgpool0 is a 7x7 average over mixed5b's 7x7 at 224 px: global, at any size.
        y = self.softmax2_pre_activation_matmul(F.adaptive_avg_pool2d(x, 1).flatten(1))  # N x 1008
        emit(LOGITS, y)
        return y

    def stages(self):
        return self._stages


def _named_pool(name: str):
    def run(x: Tensor, emit: Emit) -> Tensor:
        y = _maxpool_s2(x)
        emit(name, y)
        return y

    return run


def _mixed_stage(net: Inception5h, block: str):
    return lambda x, emit: net._mixed(block, x, emit)
