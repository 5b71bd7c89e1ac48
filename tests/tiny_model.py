"""The `tiny` test model: three small random convolutions and a 1000-way head, fast on CPU. It
exercises the machinery (class targets included) and dreams nothing meaningful.

The tests register it, never the product: importing this module registers it
(dreamcore.catalog.register_model), without torch. tests/conftest.py imports it for the test
process; an engine config with `model_plugins=TINY_PLUGIN` (or DREAMBOT_ENGINE__MODEL_PLUGINS)
makes every process that reads it register it too: a pool's workers, a bot or sandbox subprocess,
the sandbox's model check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dreamcore.catalog import IMAGENET_CLASSES, LOGITS, LayerInfo, ModelInfo, register_model

if TYPE_CHECKING:
    from dreamcore.engine.featurenet import FeatureNet

TINY_PLUGIN = (__name__,)  # for EngineConfig(model_plugins=...)
TINY_WIDTHS = (8, 16, 32)
TINY_SEED = 1234  # its weights are a function of this seed

TINY = ModelInfo(
    name="tiny",
    title="Tiny random CNN (testing only)",
    description="Three random convolutions; exercises the machinery, dreams nothing meaningful.",
    layers=(
        *(
            layer
            for i, width in enumerate(TINY_WIDTHS, start=1)
            for layer in (LayerInfo(f"conv{i}", width), LayerInfo(f"relu{i}", width, f"level {i}"))
        ),
        LayerInfo(LOGITS, IMAGENET_CLASSES),  # a random head with ImageNet's names
    ),
    default_layer="relu3",
    presets={"classic": "relu3", "textures": "relu1", "creatures": "relu2", "objects": "relu3"},
    testing=True,
    classes="imagenet",
)


def build_tiny() -> FeatureNet:
    import torch

    from tests.tiny_net import TinyNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        return TinyNet(TINY_WIDTHS, IMAGENET_CLASSES)


register_model(TINY, build_tiny)
