"""What a dream maximises: small objectives that compose, as in Lucid's optvis (`a + 0.5 * b`).

An objective names the layers it needs and turns their captured activations (N x C x h x w,
or N x K for logits) into a scalar `loss`. The loss is a sum over positions, not a mean: the
normalised ascent step cancels its scale, and sums over tiles add up to the untiled value. `count`
says how many values the sum covers, so the classic objective (the mean) can be reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

Acts = dict[str, Tensor]


class Objective:
    layers: tuple[str, ...] = ()

    def loss(self, acts: Acts) -> Tensor:
        raise NotImplementedError

    def count(self, acts: Acts) -> int:
        return 1

    def __add__(self, other: Objective) -> Objective:
        return Sum((self, other))

    def __mul__(self, weight: float) -> Objective:
        return Scaled(self, float(weight))

    __rmul__ = __mul__


@dataclass(frozen=True, eq=False)
class LayerObjective(Objective):
    """Mean of squared activations of one layer (DeepDream's L2 objective), or of one channel."""

    layer: str
    channel: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def _select(self, acts: Acts) -> Tensor:
        a = acts[self.layer]  # N x C x h x w (or N x C)
        return a if self.channel is None else a[:, self.channel : self.channel + 1]

    def loss(self, acts: Acts) -> Tensor:
        return self._select(acts).float().pow(2).sum()

    def count(self, acts: Acts) -> int:
        return self._select(acts).numel()


@dataclass(frozen=True, eq=False)
class ClassObjective(Objective):
    """One class's logit: "more banana" (Lucid's class objective)."""

    index: int
    layer: str = "logits"

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def loss(self, acts: Acts) -> Tensor:
        return acts[self.layer][:, self.index].float().sum()  # N x K -> scalar


@dataclass(frozen=True, eq=False)
class GuideObjective(Objective):
    """Make each position look like its best match in a guide image (google/deepdream's
    `objective_guide`): loss = sum over positions i of max_j <x_i, y_j>, whose gradient with
    respect to x_i is y at the best-matching j (`y[:, A.argmax(1)]` with `A = x.T @ y`)."""

    layer: str
    guide: Tensor  # C x M: the guide's feature vectors at `layer`, computed once per dream

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def loss(self, acts: Acts) -> Tensor:
        x = acts[self.layer].float()  # N x C x h x w
        x = x.flatten(2).transpose(1, 2)  # N x hw x C
        scores = x @ self.guide.to(x.device, x.dtype)  # N x hw x M
        return scores.max(dim=2).values.sum()

    def count(self, acts: Acts) -> int:
        a = acts[self.layer]
        return a.shape[0] * a.shape[2] * a.shape[3]


@dataclass(frozen=True, eq=False)
class Scaled(Objective):
    inner: Objective
    weight: float

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.layers

    def loss(self, acts: Acts) -> Tensor:
        return self.weight * self.inner.loss(acts)

    def count(self, acts: Acts) -> int:
        return self.inner.count(acts)


@dataclass(frozen=True, eq=False)
class Sum(Objective):
    terms: tuple[Objective, ...]

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(dict.fromkeys(name for t in self.terms for name in t.layers))

    def loss(self, acts: Acts) -> Tensor:
        return torch.stack([t.loss(acts) for t in self.terms]).sum()

    def count(self, acts: Acts) -> int:
        return max(t.count(acts) for t in self.terms)


def guide_features(acts: Tensor, max_vectors: int = 4096) -> Tensor:
    """The guide's feature vectors at a layer: 1 x C x h x w -> C x M (at most `max_vectors`,
    evenly strided, so a large guide does not make every step's matrix product huge)."""
    y = acts[0].flatten(1).float()  # C x hw
    if y.shape[1] > max_vectors:
        y = y[:, :: -(-y.shape[1] // max_vectors)]
    return y.detach()
