"""FeatureNet: a network whose named intermediate tensors can be captured, run only as deep as
needed.

A model is an ordered list of stages. Each stage maps a tensor to the next and may `emit` named
tensors on the way (a mixed block emits its branches). `forward` stops after the stage that emits
the last requested name, so dreaming `mixed3b` never runs mixed4a..mixed5b.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

Emit = Callable[[str, Tensor], None]


@dataclass(frozen=True)
class Preprocess:
    """Turns RGB pixels in 0..255 (N x 3 x H x W) into what the network was trained on."""

    mean: tuple[float, float, float]  # in 0..255 units, in the network's channel order
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)  # in 0..255 units
    bgr: bool = False

    # (dtype, device) -> (mean, std) as 1 x 3 x 1 x 1 tensors: made once, so that a step copies
    # nothing from the host (a CUDA graph cannot capture such a copy)
    _constants: dict[tuple[torch.dtype, torch.device], tuple[Tensor, Tensor]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __call__(self, pixels: Tensor) -> Tensor:
        x = pixels.flip(1) if self.bgr else pixels
        mean, std = self.constants(x.dtype, x.device)
        return (x - mean) / std

    def constants(self, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
        key = (dtype, device)
        if key not in self._constants:
            self._constants[key] = tuple(  # type: ignore[assignment]
                torch.tensor(v, dtype=dtype, device=device).view(1, 3, 1, 1)
                for v in (self.mean, self.std)
            )
        return self._constants[key]


class FeatureNet(nn.Module):
    """Subclasses define `stages()` -> [(names emitted, fn)] in forward order."""

    preprocess: Preprocess

    def stages(self) -> list[tuple[tuple[str, ...], Callable[[Tensor, Emit], Tensor]]]:
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the weights are stored in, and so the one the network computes in."""
        return next(self.parameters(), torch.empty(0)).dtype  # no weights: fp32

    def fold_for_inference(self) -> None:
        """After the weights are loaded: merge what frozen inference makes redundant (e.g. batch
        norms into their convolutions). Same outputs up to rounding; nothing by default."""

    def layer_names(self) -> list[str]:
        return [name for names, _ in self.stages() for name in names]

    def forward(self, pixels: Tensor, targets: Collection[str]) -> dict[str, Tensor]:
        wanted = set(targets)
        stages = self.stages()
        unknown = wanted - {name for names, _ in stages for name in names}
        if unknown:
            raise KeyError(f"unknown layers {sorted(unknown)}")
        found: dict[str, Tensor] = {}

        def emit(name: str, tensor: Tensor) -> None:
            if name in wanted:
                found[name] = tensor

        # Preprocess in fp32 (pixel arithmetic), then run in the weights' dtype (bf16 on CPUs with
        # native bf16); autograd casts the gradient back to the pixels' fp32.
        x = self.preprocess(pixels).to(self.dtype)
        for _, stage in stages:
            x = stage(x, emit)
            if len(found) == len(wanted):  # deepest target reached: skip the rest of the net
                break
        return found


def simple_stage(name: str, module: Callable[[Tensor], Tensor]) -> tuple[tuple[str, ...], Callable]:
    def run(x: Tensor, emit: Emit) -> Tensor:
        y = module(x)
        emit(name, y)
        return y

    return (name,), run
