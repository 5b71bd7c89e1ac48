"""torchvision's GoogLeNet and VGG16 (and VGG16 with HED weights) wrapped as FeatureNets.

torchvision itself takes ~1 s to import, a quarter of a worker's start: GoogLeNet and the
ImageNet VGG16 import it when one is built; vgg16-hed's layers are built here in torchvision's
layout (`features.<i>`), so HED's weights load into them and its workers never import torchvision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dreamcore.catalog import GOOGLENET_BLOCKS, GOOGLENET_POOL_BEFORE, LOGITS, vgg16_layer_names
from dreamcore.engine.featurenet import Emit, FeatureNet, Preprocess, simple_stage
from dreamcore.engine.fusion import PointwiseGroup, fold_batchnorm

if TYPE_CHECKING:
    from torchvision.models.googlenet import Inception

IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)


class GoogLeNetFeatures(FeatureNet):
    """torchvision GoogLeNet; the state dict is torchvision's (aux heads included) so it loads
    strictly."""

    def __init__(self) -> None:
        super().__init__()
        # IMAGENET1K_V1 was trained with transform_input: the first conv sees (x/255 - 0.5) / 0.5.
        self.preprocess = Preprocess(mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5))
        from torchvision.models import googlenet

        # init_weights=False: torchvision's truncated-normal init takes ~1 s and the weights are
        # replaced by the loaded ones (random-init tests get PyTorch's default init instead).
        self.net = googlenet(
            weights=None, aux_logits=True, init_weights=False, transform_input=False
        )

    def drop_unused(self) -> None:
        """After loading: the auxiliary classifiers are never run."""
        self.net.aux1 = None
        self.net.aux2 = None

    def fold_for_inference(self) -> None:
        from torchvision.models.googlenet import BasicConv2d

        # Every BasicConv2d is conv -> batch norm -> relu; with frozen statistics the norm is a
        # per-channel affine map, merged into the convolution (its forward and backward were
        # ~12% of a bf16 step on inception4d).
        for module in self.net.modules():
            if isinstance(module, BasicConv2d) and isinstance(module.bn, nn.BatchNorm2d):
                fold_batchnorm(module.conv, module.bn)
                module.bn = nn.Identity()
        # Then each block's 1x1 branch and its two bottlenecks, all 1x1 convolutions of the
        # block's input, become one convolution (see PointwiseGroup).
        self.pointwise = nn.ModuleDict()
        for block in GOOGLENET_BLOCKS:
            inception: Inception = getattr(self.net, block)
            convs = [inception.branch1, inception.branch2[0], inception.branch3[0]]
            self.pointwise[block] = PointwiseGroup([c.conv for c in convs])
            inception.branch1 = inception.branch2[0] = inception.branch3[0] = nn.Identity()

    def stages(self):
        n = self.net
        out = [
            simple_stage(name, getattr(n, name))
            for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2")
        ]
        folded = getattr(self, "pointwise", None)
        for block in GOOGLENET_BLOCKS:
            if block in GOOGLENET_POOL_BEFORE:
                pool = GOOGLENET_POOL_BEFORE[block]
                out.append(simple_stage(pool, getattr(n, pool)))
            if folded is None:
                out.append(simple_stage(block, getattr(n, block)))
            else:
                out.append(_folded_inception_stage(block, getattr(n, block), folded[block]))
        out.append(simple_stage(LOGITS, self._logits))
        return out

    def _logits(self, x):
        return self.net.fc(torch.flatten(self.net.avgpool(x), 1))  # N x 1024 x h x w -> N x 1000


def _folded_inception_stage(name: str, inception: Inception, pointwise: PointwiseGroup):
    """torchvision's Inception.forward with its three 1x1 convolutions of x run as one."""

    def run(x: Tensor, emit: Emit) -> Tensor:
        b1, reduced3, reduced5 = (F.relu(pre) for pre in pointwise(x))  # N x C_i x H x W each
        b3 = inception.branch2[1](reduced3)
        b5 = inception.branch3[1](reduced5)
        out = torch.cat((b1, b3, b5, inception.branch4(x)), dim=1)
        emit(name, out)
        return out

    return (name,), run


class VGG16Features(FeatureNet):
    """torchvision's VGG16, layers named conv1_1, relu1_1, ..., pool5, then `logits` (the
    classifier; not with HED weights, which have none)."""

    def __init__(self, caffe: bool = False) -> None:
        super().__init__()
        if caffe:  # HED weights were trained Caffe-style: BGR, mean subtracted, no scaling.
            self.preprocess = Preprocess(mean=CAFFE_MEAN_BGR, bgr=True)
            self.features = _vgg16_features()
            self.classifier = None  # HED finds edges: no classifier
        else:
            from torchvision.models import vgg16

            self.preprocess = Preprocess(mean=IMAGENET_MEAN, std=IMAGENET_STD)
            net = vgg16(weights=None)
            self.features, self.avgpool, self.classifier = net.features, net.avgpool, net.classifier
            for module in self.features:
                if isinstance(module, nn.ReLU):
                    module.inplace = False  # the captured conv output must survive the ReLU

    def stages(self):
        names = [name for name, _, _ in vgg16_layer_names()]
        out = [simple_stage(name, m) for name, m in zip(names, self.features, strict=True)]
        if self.classifier is not None:
            out.append(simple_stage(LOGITS, self._logits))
        return out

    def _logits(self, x):
        # N x 512 x h x w -> (adaptive 7 x 7) -> N x 1000
        return self.classifier(torch.flatten(self.avgpool(x), 1))

    def conv_modules(self) -> list[nn.Conv2d]:
        return [m for m in self.features if isinstance(m, nn.Conv2d)]


def _vgg16_features() -> nn.Sequential:
    """torchvision's `vgg16().features` (same modules, indices and initialisation) without
    torchvision and without the classifier, which HED lacks (120M parameters, ~1 s to make)."""
    layers: list[nn.Module] = []
    channels = 3
    for _, kind, width in vgg16_layer_names():
        if kind == "conv":
            conv = nn.Conv2d(channels, width, kernel_size=3, padding=1)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            assert conv.bias is not None  # Conv2d's default: bias=True
            nn.init.zeros_(conv.bias)  # as torchvision's VGG: random-weight controls alike
            layers.append(conv)
            channels = width
        elif kind == "relu":
            layers.append(nn.ReLU())  # not in place: the captured conv output must survive it
        else:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)
