"""On CUDA, precision `auto` is measured, not assumed: each candidate runs a few gradient steps of
the model at the batch the worker steps, and the fastest is kept.

Measured on an H200 (DESIGN.md): fp16 autocast was 20-40% slower than fp32 at batch 1, fp32 beats
bf16 at batch 1 (launch-bound), bf16 beats fp32 once batched. What wins depends on the model, the
batch and the card, so the worker asks its own card, once per model, when the model is loaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from contextlib import nullcontext

import torch

from dreamcore.engine.device import DTYPES, Placement
from dreamcore.engine.featurenet import FeatureNet

CANDIDATES = ("fp32", "bf16", "fp16")
PROBE_SHAPE = (384, 512)  # H x W: a typical photo at the default 512-px side
PROBE_REPEATS = 3

Clock = Callable[[], float]


def fastest_precision(
    net: FeatureNet,
    place: Placement,
    layers: Collection[str],
    *,
    batch: int,
    candidates: tuple[str, ...] = CANDIDATES,
    shape: tuple[int, int] = PROBE_SHAPE,
    repeats: int = PROBE_REPEATS,
    clock: Clock = time.perf_counter,
) -> str:
    """The candidate whose gradient step (forward to `layers`, backward to the pixels) of
    `batch` images is fastest on `place.device`; fp32 weights, the others under autocast."""
    pixels = torch.rand(batch, 3, *shape, device=place.device) * 255  # N x 3 x H x W
    if place.channels_last:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
    seconds = {}
    for name in candidates:
        step = _step(net, pixels, layers, place.device, name)
        step()  # warm-up: kernels chosen (cudnn.benchmark), workspaces allocated
        _sync(place.device)
        t0 = clock()
        for _ in range(repeats):
            step()
        _sync(place.device)
        seconds[name] = clock() - t0
    return min(seconds, key=seconds.__getitem__)


def _step(
    net: FeatureNet, pixels: torch.Tensor, layers: Collection[str], device: torch.device, name: str
) -> Callable[[], None]:
    dtype = DTYPES[name]

    def step() -> None:
        x = pixels.detach().requires_grad_(True)
        autocast = (
            nullcontext()
            if dtype == torch.float32
            else torch.autocast(device_type=device.type, dtype=dtype)
        )
        with autocast:
            acts = net(x, layers)
        torch.stack([a.float().pow(2).sum() for a in acts.values()]).sum().backward()

    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
