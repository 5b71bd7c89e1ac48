"""torchvision's GoogLeNet and VGG16 (and VGG16 with HED weights) wrapped as FeatureNets."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import googlenet, vgg16

from dreamcore.catalog import GOOGLENET_BLOCKS, GOOGLENET_POOL_BEFORE, LOGITS, vgg16_layer_names
from dreamcore.engine.featurenet import FeatureNet, Preprocess, simple_stage

IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)


class GoogLeNetFeatures(FeatureNet):
    """torchvision GoogLeNet; the state dict is torchvision's (aux heads included) so it loads strictly."""

    def __init__(self) -> None:
        super().__init__()
        # IMAGENET1K_V1 was trained with transform_input: the first conv sees (x/255 - 0.5) / 0.5.
        self.preprocess = Preprocess(mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5))
        self.net = googlenet(
            weights=None, aux_logits=True, init_weights=True, transform_input=False
        )

    def drop_unused(self) -> None:
        """After loading: the auxiliary classifiers are never run."""
        self.net.aux1 = None
        self.net.aux2 = None

    def stages(self):
        n = self.net
        out = [
            simple_stage(name, getattr(n, name))
            for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2")
        ]
        for block in GOOGLENET_BLOCKS:
            if block in GOOGLENET_POOL_BEFORE:
                pool = GOOGLENET_POOL_BEFORE[block]
                out.append(simple_stage(pool, getattr(n, pool)))
            out.append(simple_stage(block, getattr(n, block)))
        out.append(simple_stage(LOGITS, self._logits))
        return out

    def _logits(self, x):
        return self.net.fc(torch.flatten(self.net.avgpool(x), 1))  # N x 1024 x h x w -> N x 1000


class VGG16Features(FeatureNet):
    """torchvision's VGG16, layers named conv1_1, relu1_1, ..., pool5, then `logits` (the
    classifier; not with HED weights, which have none)."""

    def __init__(self, caffe: bool = False) -> None:
        super().__init__()
        net = vgg16(weights=None)
        if caffe:  # HED weights were trained Caffe-style: BGR, mean subtracted, no scaling.
            self.preprocess = Preprocess(mean=CAFFE_MEAN_BGR, bgr=True)
            self.classifier = None  # HED finds edges: no classifier
        else:
            self.preprocess = Preprocess(mean=IMAGENET_MEAN, std=IMAGENET_STD)
            self.avgpool, self.classifier = net.avgpool, net.classifier
        self.features = net.features
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


class TinyNet(FeatureNet):
    """Three small random convolutions and a 1000-way head (fixed seed): exercises the machinery
    in tests, class targets included, fast on CPU."""

    def __init__(self, widths: tuple[int, ...], classes: int) -> None:
        super().__init__()
        self.preprocess = Preprocess(mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5))
        layers, cin = [], 3
        for i, width in enumerate(widths):
            layers.append(nn.Conv2d(cin, width, 3, stride=1 if i == 0 else 2, padding=1))
            layers.append(nn.ReLU())
            cin = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def stages(self):
        out = []
        for i, module in enumerate(self.body):
            kind = "conv" if isinstance(module, nn.Conv2d) else "relu"
            out.append(simple_stage(f"{kind}{i // 2 + 1}", module))
        out.append(simple_stage(LOGITS, self._logits))
        return out

    def _logits(self, x):
        return self.head(x.mean(dim=(2, 3)))  # N x C x h x w -> N x classes
