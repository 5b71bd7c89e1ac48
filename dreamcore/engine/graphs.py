"""CUDA graphs of the batched gradient step: the network's forward and backward, each replayed
as one launch instead of one launch per kernel.

At batch 1 a step waits on kernel launches (hundreds of small kernels per pass). A CUDA graph
records a pass once and replays it whole. `recording.record` records the
network's forward to the objective's layers, and its backward, as one autograd node; the
objectives (each dream's own loss over its own positions) stay eager on the graphed activations,
so one graph serves every objective on the same layers.

A graph is fixed to what it recorded, so it is keyed by everything that changes the work:
network, layers, autocast dtype, memory format, batch, padded height and width, device. Batches
are padded up to 1, 2, 4, 8, ... `max_batch` images (`batch_for`), so that a few graphs serve
every batch. `GraphCache` captures a key on its third use (a capture costs a few steps, worth
paying only for a shape that recurs) and keeps the most recently used within
an entry count and a memory budget (each graph holds a private memory pool: about one eager
step's activations). A key whose capture fails (an op that can't be captured, out of memory) is
logged once and runs eager from then on: graphs never fail a dream.

A graph's outputs and input gradient are buffers that its next replay overwrites: the batcher
clones each image's gradient before the next step and keeps nothing else of a step.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.recording import Forward, record
from dreamcore.engine.stepping import Gradient

log = logging.getLogger(__name__)

MiB = 2**20
WARMUP_ITERS = 3  # torch's default: lazy initialisation and cudnn's choices stay out of the graph
EAGER_KEYS_KEPT = 4096  # keys remembered as eager (a bound, so that odd shapes can't grow it)
# A capture costs about WARMUP_ITERS + 1 eager steps: a key is recorded on its third use, so that
# the shapes a dream meets once or twice (an odd tile, a batch that formed by chance) stay eager
# and don't push out the graphs that every dream replays (each octave's shape, `steps` times).
CAPTURE_AFTER_USES = 3


@dataclass(frozen=True)
class GraphKey:
    """Everything a recorded pass depends on."""

    net: int  # id() of the network (its entry keeps it alive, so the id is not reused)
    layers: tuple[str, ...]
    autocast: torch.dtype | None  # None: no autocast
    channels_last: bool
    batch: int
    height: int
    width: int
    device: str


@dataclass(frozen=True)
class Captured:
    forward: Forward  # the graphed forward (autograd replays the graphed backward)
    cost: int  # bytes of device memory the graph holds


Capture = Callable[["LayerOutputs", Tensor], Captured]  # (module, an input of the key's shape)


@dataclass(frozen=True)
class _Entry:
    captured: Captured
    net: FeatureNet  # alive while its graph is, so that the id() in the key is not reused


class LayerOutputs(nn.Module):
    """A network's forward to a fixed, ordered list of layers, returning their activations as a
    tuple (a graphed callable's outputs must be tensors), under autocast inside the forward and
    without autocast's weight cache (torch requires both for graphs)."""

    def __init__(self, net: FeatureNet, layers: tuple[str, ...], autocast: torch.dtype | None):
        super().__init__()
        self.net = net
        self.layers = layers
        self.autocast_dtype = autocast

    def forward(self, pixels: Tensor) -> tuple[Tensor, ...]:
        ctx: AbstractContextManager = nullcontext()
        if self.autocast_dtype is not None:
            ctx = torch.autocast(pixels.device.type, dtype=self.autocast_dtype, cache_enabled=False)
        with ctx:
            acts = self.net(pixels, self.layers)
        return tuple(acts[name] for name in self.layers)


_CAPTURE_LOCK = threading.Lock()  # one capture at a time in a process: each empties the cache


def capture_cuda(module: LayerOutputs, template: Tensor) -> Captured:
    """Record `module`'s forward and backward for inputs shaped and laid out like `template`
    (N x 3 x H x W on a CUDA device). Raises if it can't (then the caller runs eager)."""
    device = template.device
    if device.type != "cuda":
        raise RuntimeError(f"CUDA graphs need a CUDA device, not {device}")
    if any(p.requires_grad for p in module.parameters()):
        raise RuntimeError("CUDA graphs of the step need frozen weights")
    with _CAPTURE_LOCK, torch.cuda.device(device):
        before = _reserved(device)
        stream = torch.cuda.current_stream(device)
        pool = torch.cuda.graph_pool_handle()  # this graph's own: evicting it frees the memory
        sample = template.detach().clone().requires_grad_(True)  # becomes the graph's input buffer
        try:
            graphed = record(module, sample, pool=pool, warmup=WARMUP_ITERS)
        except BaseException:
            _after_failed_capture(device, stream, pool)
            raise
        # what the capture left held (its private pool and buffers); at least its input and
        # input-gradient buffers, whatever other threads freed meanwhile
        cost = max(_reserved(device) - before, 2 * sample.numel() * sample.element_size())

    def forward(pixels: Tensor) -> tuple[Tensor, ...]:
        with torch.cuda.device(device):  # a worker on cuda:N need not have it as current device
            return graphed(pixels)

    return Captured(forward, cost)


def _after_failed_capture(device: torch.device, stream: torch.cuda.Stream, pool: Any) -> None:
    """Undo what torch leaves behind when a capture fails midway (its capture_end raises before
    restoring them): this thread's current stream left on the capture's side stream, and the
    allocator still routing that capture's allocations to its pool, with which every later
    empty_cache and out-of-memory retry fails an internal assert. The eager steps that follow
    need both put back."""
    side = torch.cuda.current_stream(device)
    if side != stream:
        stream.wait_stream(side)  # the warm-up's work comes before anything after it
        torch.cuda.set_stream(stream)
    index = device.index if device.index is not None else torch.cuda.current_device()
    try:
        torch._C._cuda_endAllocateToPool(index, pool)
    except RuntimeError:
        return  # nothing was left routed: it failed outside a capture (e.g. in the warm-up)
    torch._C._cuda_releasePool(index, pool)  # the abandoned capture's hold: the pool can go


def _reserved(device: torch.device) -> int:
    """The device memory torch holds, after giving back what nothing uses (unused cache, and
    graphs dropped: their autograd classes are reference cycles, which only the GC frees)."""
    gc.collect()
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    return torch.cuda.memory_reserved(device)


def autocast_dtype(gradient: Gradient) -> tuple[bool, torch.dtype | None]:
    """(known, dtype) of the autocast a gradient runs its network under: None for none. Not
    known (something other than torch.autocast or nothing): that step is not graphed."""
    ctx = gradient.autocast()
    if isinstance(ctx, nullcontext):
        return True, None
    if isinstance(ctx, torch.autocast):
        return True, ctx.fast_dtype if ctx._enabled else None
    return False, None


@dataclass
class GraphStats:
    """What the cache did (read by tests, benchmarks and logs)."""

    captures: int = 0
    replays: int = 0
    evictions: int = 0
    failures: int = 0  # captures or replays that raised: those keys run eager
    held: int = 0  # bytes the cached graphs hold


class GraphCache:
    """The graphed forwards of the batched step, captured on a key's `capture_after`-th use and
    kept least recently used first out within `max_entries` and `max_mb` of device memory.

    `capture` records one (capture_cuda; tests inject a fake). Not thread-safe beyond its lock:
    one StepBatcher's leader uses it, one step at a time, as graphs' buffers require.
    """

    def __init__(
        self,
        *,
        max_batch: int = 16,
        max_entries: int = 64,
        max_mb: float = 2048,
        capture_after: int = CAPTURE_AFTER_USES,
        capture: Capture = capture_cuda,
    ) -> None:
        self.max_batch = max(1, max_batch)
        self.capture_after = max(1, capture_after)
        self.max_entries = max(1, max_entries)
        self.max_bytes = int(max_mb * MiB)
        self.capture = capture
        self.stats = GraphStats()
        self._entries: OrderedDict[GraphKey, _Entry] = OrderedDict()  # oldest use first
        self._eager: OrderedDict[GraphKey, None] = OrderedDict()
        self._uses: OrderedDict[GraphKey, int] = OrderedDict()  # keys not captured yet
        self._lock = threading.Lock()

    def batch_for(self, n: int) -> int:
        """The batch `n` images run at graphed: the next power of two, at most `max_batch`."""
        if n >= self.max_batch:
            return n
        return min(1 << (n - 1).bit_length(), self.max_batch)

    def key_for(
        self, gradient: Gradient, n: int, padded: tuple[int, int], device: torch.device
    ) -> GraphKey | None:
        """The key of `n` crops of `gradient`'s dreams padded to (H, W); None: not graphable
        (an autocast this module doesn't know), or a key that failed before: run eager."""
        known, dtype = autocast_dtype(gradient)
        if not known:
            return None
        key = GraphKey(
            net=id(gradient.net),
            layers=tuple(dict.fromkeys(gradient.objective.layers)),
            autocast=dtype,
            channels_last=gradient.channels_last,
            batch=self.batch_for(n),
            height=padded[0],
            width=padded[1],
            device=str(device),
        )
        with self._lock:
            return None if key in self._eager else key

    def forward(self, key: GraphKey, net: FeatureNet, template: Tensor) -> Forward | None:
        """`key`'s graphed forward, captured now if this is its `capture_after`-th use
        (`template`: an input of its shape and layout); None: run this step eager (not used
        often enough yet, the capture failed, or the graph is too big)."""
        with self._lock:
            if key in self._eager:
                return None
            entry = self._entries.get(key)
            if entry is None:
                if not self._used_enough(key):
                    return None
                entry = self._capture(key, net, template)
                if entry is None:
                    return None
            self._entries.move_to_end(key)
            self.stats.replays += 1
            return entry.captured.forward

    def demote(self, key: GraphKey, error: BaseException) -> None:
        """A replay of `key` raised: forget its graph and run it eager from now on."""
        with self._lock:
            self.stats.failures += 1
            entry = self._entries.pop(key, None)
            if entry is not None:
                self.stats.held -= entry.captured.cost
            self._remember_eager(key)
        log.warning(
            "CUDA graph for %s failed to replay; eager from now on: %r", describe(key), error
        )

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def runs_eager(self, key: GraphKey) -> bool:
        return key in self._eager

    def _capture(self, key: GraphKey, net: FeatureNet, template: Tensor) -> _Entry | None:
        captured: Captured | None = None
        try:
            captured = self.capture(LayerOutputs(net, key.layers, key.autocast), template)
        except Exception as err:  # noqa: BLE001 - any failure (an op, out of memory): eager
            self.stats.failures += 1
            log.warning(
                "CUDA graph capture failed for %s; eager from now on: %r", describe(key), err
            )
        if captured is not None and captured.cost > self.max_bytes:
            log.info(
                "CUDA graph for %s holds %.0f MiB, more than engine.graph_cache_mb (%.0f): eager",
                describe(key),
                captured.cost / MiB,
                self.max_bytes / MiB,
            )
            captured = None
        if captured is None:
            self._remember_eager(key)
            gc.collect()  # what the capture made lies in reference cycles: free its memory now
            return None
        entry = self._entries[key] = _Entry(captured, net)
        self.stats.captures += 1
        self.stats.held += captured.cost
        self._evict_to_fit()
        return entry

    def _evict_to_fit(self) -> None:
        """Drop the least recently used graphs until the rest fit (never the newest: it fits
        alone). A dropped graph's memory goes with it (its private pool)."""
        evicted = 0
        while len(self._entries) > self.max_entries or self.stats.held > self.max_bytes:
            _, entry = self._entries.popitem(last=False)
            self.stats.held -= entry.captured.cost
            evicted += 1
        if evicted:
            self.stats.evictions += evicted
            del entry
            gc.collect()  # a graph's autograd class is a reference cycle: free its memory now

    def _used_enough(self, key: GraphKey) -> bool:
        """Count a use of a key that has no graph; True once it has been used `capture_after`
        times (then it is captured, or remembered as eager: no longer counted)."""
        uses = self._uses.pop(key, 0) + 1
        if uses >= self.capture_after:
            return True
        self._uses[key] = uses  # the most recent last: the oldest counts go first
        while len(self._uses) > EAGER_KEYS_KEPT:
            self._uses.popitem(last=False)
        return False

    def _remember_eager(self, key: GraphKey) -> None:
        self._eager[key] = None
        while len(self._eager) > EAGER_KEYS_KEPT:
            self._eager.popitem(last=False)


def describe(key: GraphKey) -> str:
    precision = "fp32" if key.autocast is None else str(key.autocast).removeprefix("torch.")
    return (
        f"{'+'.join(key.layers)} at {key.batch} x {key.height} x {key.width} "
        f"({precision}, {key.device})"
    )
