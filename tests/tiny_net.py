"""The network of the `tiny` test model (tests/tiny_model.py registers it)."""

from __future__ import annotations

from torch import nn

from dreamcore.catalog import LOGITS
from dreamcore.engine.featurenet import FeatureNet, Preprocess, simple_stage


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
