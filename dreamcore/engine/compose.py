"""From a request's params to the objective a dream maximises (dreamcore/engine/objectives.py):
a class logit, or layer terms (L2, or matched to a guide image) normalised and weighted."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamcore.catalog import find_class
from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.objectives import (
    ClassObjective,
    GuideObjective,
    LayerObjective,
    Objective,
    Sum,
    guide_features,
)
from dreamcore.imaging import GUIDE_SIDE
from dreamcore.request import DreamParams

Total = Callable[[Objective], float]  # the objective's sum over the input image


def objective_for(
    params: DreamParams, net: FeatureNet, *, total: Total, guide: Tensor | None = None
) -> Objective:
    """The dream's objective. `total` measures a term on the input (for a mix's weights);
    `guide` is the guide image's pixels (1 x 3 x H x W, 0..255) when the dream is guided."""
    if params.target_class is not None:
        return ClassObjective(find_class(params.model, params.target_class)[0])
    terms = params.terms
    features = _guide_features(net, guide, {t.layer for t in terms}) if guide is not None else {}
    parts: list[Objective] = [
        GuideObjective(t.layer, features[t.layer])
        if features
        else LayerObjective(t.layer, t.channel)
        for t in terms
    ]
    if len(parts) == 1:
        return parts[0]  # one term: its scale cancels in the normalised step
    # Each term relative to its own size on the input, so that `a + b*0.5` means half as much b
    # whatever the layers' magnitudes.
    return Sum(
        tuple((t.weight / max(total(p), 1e-12)) * p for t, p in zip(terms, parts, strict=True))
    )


@torch.no_grad()
def _guide_features(net: FeatureNet, guide: Tensor, layers: set[str]) -> dict[str, Tensor]:
    _, _, h, w = guide.shape
    scale = min(1.0, GUIDE_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        guide = F.interpolate(guide, size=size, mode="bilinear", antialias=True)
    acts = net(guide, layers)
    return {name: guide_features(acts[name]) for name in layers}  # each C x M
