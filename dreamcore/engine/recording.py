"""A forward to the pixels and its backward, recorded as two CUDA graphs and replayed as one
autograd node: what `torch.cuda.make_graphed_callables` does, for the one case the step needs.

Ours, not torch's, because a worker records while other dreams' threads keep working on the same
GPU: the capture must be thread-local (only this thread's unsafe calls may spoil it, and no other
thread's call fails because of it). `make_graphed_callables` takes no capture mode before mid-2026
(not in torch 2.11, the GPU machine's: passing one raised TypeError, so every step ran eager), and
captures in the global mode; `torch.cuda.graph` has taken the mode since torch 2.1.

The step's case is narrow, so this is short: one input (the pixels, which need a gradient),
frozen weights (no parameter gradients), a tuple of outputs that all depend on the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

Forward = Callable[[Tensor], tuple[Tensor, ...]]  # N x 3 x H x W pixels -> each layer's output
MODE = "thread_local"  # other threads may allocate or sync while this one records


@dataclass(frozen=True)
class Recorded:
    """The graphs and the static buffers they read and write (same addresses every replay)."""

    forward_graph: torch.cuda.CUDAGraph
    backward_graph: torch.cuda.CUDAGraph
    pixels: Tensor  # the forward graph's input buffer
    outputs: tuple[Tensor, ...]  # its outputs
    output_grads: tuple[Tensor, ...]  # the backward graph's inputs
    pixels_grad: Tensor  # its output


def record(forward: Forward, sample: Tensor, *, pool: Any, warmup: int = 3) -> Forward:
    """Record `forward` and its backward for inputs shaped and laid out like `sample` (a CUDA
    tensor that requires grad; it becomes the input buffer). Returns the replaying forward.
    Raises if the capture fails (the caller restores the stream and runs eager)."""
    device = sample.device
    torch.cuda.synchronize(device)
    side = torch.cuda.Stream(device)  # the warm-up's and the captures' (torch.cuda.graph's own
    side.wait_stream(torch.cuda.current_stream(device))  # is made once, on the first device)
    with torch.cuda.stream(side):
        # lazy initialisation, cudnn's algorithm search and the allocator's first blocks happen
        # here, outside the graph
        for _ in range(warmup):
            outs = forward(sample)
            torch.autograd.grad(outs, sample, tuple(torch.empty_like(o) for o in outs))
        del outs
    torch.cuda.synchronize(device)

    forward_graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(forward_graph, pool, side, capture_error_mode=MODE):
        outputs = tuple(forward(sample))
    output_grads = tuple(torch.empty_like(o) for o in outputs)
    backward_graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(backward_graph, pool, side, capture_error_mode=MODE):
        (pixels_grad,) = torch.autograd.grad(outputs, sample, output_grads, only_inputs=True)
    recorded = Recorded(forward_graph, backward_graph, sample, outputs, output_grads, pixels_grad)

    def replaying(pixels: Tensor) -> tuple[Tensor, ...]:
        return _Replay.apply(recorded, pixels)

    return replaying


class _Replay(torch.autograd.Function):
    """Forward: copy the pixels in, replay the forward graph. Backward: copy the incoming
    gradients in, replay the backward graph. The tensors handed out are the graphs' buffers,
    which the next replay overwrites: callers use them within the step, clone what they keep."""

    @staticmethod
    def forward(ctx: Any, recorded: Recorded, pixels: Tensor) -> tuple[Tensor, ...]:
        ctx.recorded = recorded
        if recorded.pixels.data_ptr() != pixels.data_ptr():
            recorded.pixels.copy_(pixels)
        recorded.forward_graph.replay()
        return tuple(o.detach() for o in recorded.outputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, *grads: Tensor) -> tuple[None, Tensor]:
        recorded: Recorded = ctx.recorded
        for buffer, grad in zip(recorded.output_grads, grads, strict=True):
            if buffer.data_ptr() != grad.data_ptr():
                buffer.copy_(grad)
        recorded.backward_graph.replay()
        return None, recorded.pixels_grad.detach()
