"""On CUDA, precision `auto` is measured, not assumed: each candidate runs a few gradient steps of
the model at the batch the worker steps, and the fastest is kept.

Measured on an H200 (DESIGN.md): fp16 autocast was 20-40% slower than fp32 at batch 1, fp32 beats
bf16 at batch 1 (launch-bound), bf16 beats fp32 once batched. What wins depends on the model, the
batch and the card, so the worker asks its own card, once per model, when the model is loaded.
With CUDA graphs on, the step timed is the graphed one (`graphed_step`): graphs take the launch
cost out of small batches, so the answer may change, and it should be the answer for the step the
dreams will run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from contextlib import nullcontext

import torch
from torch import Tensor

from dreamcore.engine.device import DTYPES, Placement
from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.graphs import Capture, LayerOutputs, capture_cuda

log = logging.getLogger(__name__)

CANDIDATES = ("fp32", "bf16", "fp16")
PROBE_SHAPE = (384, 512)  # H x W: a typical photo at the default 512-px side
PROBE_REPEATS = 3

Clock = Callable[[], float]
Step = Callable[[], None]
# (network, pixels N x 3 x H x W, layers, autocast dtype or None) -> one gradient step
StepFactory = Callable[[FeatureNet, Tensor, tuple[str, ...], torch.dtype | None], Step]


def eager_step(
    net: FeatureNet, pixels: Tensor, layers: tuple[str, ...], autocast: torch.dtype | None
) -> Step:
    """A gradient step as the eager path runs it."""

    def step() -> None:
        x = pixels.detach().requires_grad_(True)
        ctx = (
            nullcontext()
            if autocast is None
            else torch.autocast(device_type=pixels.device.type, dtype=autocast)
        )
        with ctx:
            acts = net(x, layers)
        _loss(acts.values()).backward()

    return step


def graphed_step(
    net: FeatureNet,
    pixels: Tensor,
    layers: tuple[str, ...],
    autocast: torch.dtype | None,
    *,
    capture: Capture = capture_cuda,
) -> Step:
    """A gradient step as the batcher runs it with CUDA graphs: recorded here, once (not timed),
    replayed by each call; the eager step where it can't be recorded."""
    try:
        forward = capture(LayerOutputs(net, layers, autocast), pixels).forward
    except Exception as err:  # noqa: BLE001 - as the batcher does: eager when capture fails
        log.warning("CUDA graph capture failed while timing precisions: %r; timing eager", err)
        return eager_step(net, pixels, layers, autocast)

    def step() -> None:
        x = pixels.detach().requires_grad_(True)
        _loss(forward(x)).backward()

    return step


def _loss(acts: Collection[Tensor]) -> Tensor:
    return torch.stack([a.float().pow(2).sum() for a in acts]).sum()


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
    step: StepFactory = eager_step,
) -> str:
    """The candidate whose gradient step (forward to `layers`, backward to the pixels) of
    `batch` images is fastest on `place.device`; fp32 weights, the others under autocast.
    `step` makes the step timed (`eager_step`, the default, or `graphed_step`)."""
    pixels = torch.rand(batch, 3, *shape, device=place.device) * 255  # N x 3 x H x W
    if place.channels_last:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
    seconds = {}
    for name in candidates:
        dtype = DTYPES[name]
        run = step(net, pixels, tuple(layers), None if dtype == torch.float32 else dtype)
        run()  # warm-up: kernels chosen (cudnn.benchmark), workspaces allocated
        _sync(place.device)
        t0 = clock()
        for _ in range(repeats):
            run()
        _sync(place.device)
        seconds[name] = clock() - t0
        del run  # a graphed step's memory goes before the next candidate's is recorded
    return min(seconds, key=seconds.__getitem__)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
