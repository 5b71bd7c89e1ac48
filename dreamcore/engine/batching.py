"""Continuous batching: several dreams, each on its own thread, stepped together.

Each dream runs its ordinary sequential code (octaves, steps, tiles) on a thread of the worker.
When it needs a gradient it asks the `StepBatcher` and waits. Once every dream that is stepping
has asked, one of the waiting threads becomes the leader: it groups the asks that share (network,
objective layers, padded shape), runs each group as one batched forward and backward, and hands
every dream its own gradient. Dreams join and leave between steps (a new job starts, a finished
one encodes its result); nothing waits on a clock.

One batched backward of the summed per-image losses gives each image its own gradient, because
in eval mode nothing mixes samples (batch norms are folded, LRN is across channels). Photos of
different sizes batch too: each crop is padded (replicating its border) up to a bucket of
`bucket` pixels and its loss is taken over its own positions only. A dream stepped alone through
the batcher is padded the same way, so its result equals the batched one up to float rounding.

With a `GraphCache` (CUDA), a group's forward and backward replay a CUDA graph (graphs.py): the
batch is padded up to the graph's batch with copies of the first crop, which get no loss.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.graphs import GraphCache, GraphKey
from dreamcore.engine.objectives import Acts
from dreamcore.engine.stepping import Gradient

GroupKey = tuple[int, tuple[str, ...], int, int, str]  # net, layers, padded H, padded W, device


@dataclass(eq=False)
class _Ask:
    """One dream's request for the gradient of one crop (1 x 3 x h x w)."""

    gradient: Gradient
    crop: Tensor
    key: GroupKey
    result: Tensor | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    """What the batcher did (read by tests and benchmarks)."""

    batches: int = 0
    images: int = 0
    largest: int = 0
    sizes: list[int] = field(default_factory=list)  # the last few batches' sizes

    def record(self, size: int) -> None:
        self.batches += 1
        self.images += size
        self.largest = max(self.largest, size)
        self.sizes = [*self.sizes[-63:], size]


class StepBatcher:
    """Gathers the gradient asks of the dreams that step at the same time and runs them batched.

    `max_batch` bounds one forward's batch (memory); `bucket` is the padding granule in pixels;
    `graphs`: the CUDA graphs the steps replay (None: eager).
    """

    def __init__(
        self, *, max_batch: int = 16, bucket: int = 64, graphs: GraphCache | None = None
    ) -> None:
        self.max_batch = max(1, max_batch)
        self.bucket = max(1, bucket)
        self.graphs = graphs
        self.stats = BatchStats()
        self._cond = threading.Condition()
        self._stepping = 0  # threads inside `dreaming()`
        self._waiting: list[_Ask] = []
        self._leading = False

    @contextmanager
    def dreaming(self) -> Iterator[None]:
        """Around a dream's stepping: while inside, the batcher waits for this thread's asks."""
        with self._cond:
            self._stepping += 1
        try:
            yield
        finally:
            with self._cond:
                self._stepping -= 1
                self._cond.notify_all()  # the others may now all be waiting: one of them leads

    @contextmanager
    def aside(self) -> Iterator[None]:
        """Around slow work of a stepping dream that is not a step (a preview's encoding): the
        others step meanwhile instead of waiting for this thread's next ask. Not for cheap work:
        a dream that steps aside misses the round led meanwhile and steps in a smaller batch."""
        with self._cond:
            self._stepping -= 1
            self._cond.notify_all()  # the others may now all be waiting: one of them leads
        try:
            yield
        finally:
            with self._cond:
                self._stepping += 1

    def gradient(self, gradient: Gradient, crop: Tensor) -> Tensor:
        """d objective / d crop for `gradient`'s dream, computed in a batch with the others."""
        _, _, h, w = crop.shape
        key = (id(gradient.net), gradient.objective.layers, *self.padded(h, w), str(crop.device))
        ask = _Ask(gradient, crop, key)
        with self._cond:
            self._waiting.append(ask)
            self._cond.notify_all()
            while not ask.done:
                if not self._leading and len(self._waiting) >= self._stepping:
                    self._lead()
                else:
                    self._cond.wait()
        if ask.error is not None:
            raise ask.error
        assert ask.result is not None
        return ask.result

    def padded(self, h: int, w: int) -> tuple[int, int]:
        return _round_up(h, self.bucket), _round_up(w, self.bucket)

    def _lead(self) -> None:
        """Run every waiting ask, group by group (called with the lock held; released while
        computing, so that threads leaving `dreaming()` are not blocked)."""
        self._leading = True
        asks, self._waiting = self._waiting, []
        self._cond.release()
        try:
            groups: dict[GroupKey, list[_Ask]] = {}
            for ask in asks:
                groups.setdefault(ask.key, []).append(ask)
            for group in groups.values():
                for start in range(0, len(group), self.max_batch):
                    self._run(group[start : start + self.max_batch])
        finally:
            self._cond.acquire()
            self._leading = False
            for ask in asks:
                ask.done = True
            self._cond.notify_all()

    def _run(self, group: list[_Ask]) -> None:
        try:
            grads = batched_gradients(
                [(a.gradient, a.crop) for a in group],
                self.padded(*group[0].crop.shape[-2:]),
                graphs=self.graphs,
            )
        except BaseException as err:  # noqa: BLE001 - each dream fails with it (e.g. out of memory)
            for ask in group:
                ask.error = err
            return
        self.stats.record(len(group))
        for ask, grad in zip(group, grads, strict=True):
            ask.result = grad


def batched_gradients(
    items: list[tuple[Gradient, Tensor]],
    padded: tuple[int, int],
    *,
    graphs: GraphCache | None = None,
) -> list[Tensor]:
    """One forward and backward for crops (each 1 x 3 x h_i x w_i) padded to `padded` (H, W);
    every crop's own objective over its own positions. Returns each crop's gradient (its own
    tensor: nothing of the step's buffers). With `graphs`, the pass replays a CUDA graph where
    one can be had."""
    first = items[0][0]
    ph, pw = padded
    xs = []
    for _, crop in items:
        h, w = crop.shape[-2:]
        xs.append(F.pad(crop.detach(), (0, pw - w, 0, ph - h), mode="replicate"))
    key = graphs.key_for(first, len(xs), padded, xs[0].device) if graphs is not None else None
    if key is not None:
        xs += [xs[0]] * (key.batch - len(xs))  # padding rows: no loss, their gradient unused
    x = torch.cat(xs)  # N x 3 x H x W
    if first.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    acts = _graphed(graphs, key, first.net, x) if graphs is not None and key is not None else None
    if acts is None:
        with first.autocast():
            acts = first.net(x, first.objective.layers)
    losses = []
    for i, (gradient, crop) in enumerate(items):
        h, w = crop.shape[-2:]
        own = {name: _own_positions(a[i : i + 1], h / ph, w / pw) for name, a in acts.items()}
        losses.append(gradient.objective.loss(own))
    torch.stack(losses).sum().backward()  # parameters are frozen: only x gets a gradient
    assert x.grad is not None
    sizes = [crop.shape[-2:] for _, crop in items]
    # cloned: a graph's input gradient is a buffer that its next replay overwrites
    return [x.grad[i : i + 1, :, :h, :w].clone() for i, (h, w) in enumerate(sizes)]


def _graphed(graphs: GraphCache, key: GraphKey, net: FeatureNet, x: Tensor) -> Acts | None:
    """The activations of `key`'s layers from its graph (captured on first use); None: eager."""
    forward = graphs.forward(key, net, x)
    if forward is None:
        return None
    try:
        outputs = forward(x)
    except Exception as err:  # noqa: BLE001 - a graph never fails a dream: eager instead
        graphs.demote(key, err)
        return None
    return dict(zip(key.layers, outputs, strict=True))


def _own_positions(act: Tensor, share_h: float, share_w: float) -> Tensor:
    """The part of a 1 x C x h x w activation that sees the crop rather than its padding (a
    feature map covers the padded input evenly); logits (1 x K) are the image's own."""
    if act.dim() != 4:
        return act
    h, w = act.shape[-2:]
    return act[:, :, : math.ceil(h * share_h), : math.ceil(w * share_w)]


def _round_up(n: int, granule: int) -> int:
    return -(-n // granule) * granule
