"""What the dream maximises: small objects that turn captured activations into a scalar.

`loss` is what the gradient is taken of: a sum, because its scale cancels in the normalised step
and sums over tiles add up to the untiled value. `count` is how many activations the sum covers,
so that `Gradient.objective_value` can report the classic objective (mean of squared activations).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class LayerObjective:
    """Mean of squared activations of one layer (DeepDream's L2 objective), or of one channel."""

    layer: str
    channel: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def _select(self, acts: dict[str, Tensor]) -> Tensor:
        a = acts[self.layer]  # N x C x h x w
        return a if self.channel is None else a[:, self.channel : self.channel + 1]

    def loss(self, acts: dict[str, Tensor]) -> Tensor:
        return self._select(acts).float().pow(2).sum()

    def count(self, acts: dict[str, Tensor]) -> int:
        return self._select(acts).numel()
