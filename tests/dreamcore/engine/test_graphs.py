"""CUDA graphs of the batched step: the cache's keys, eviction and eager fallback, the batch-size
buckets and the clones that guard a graph's reused buffers. On the CPU a fake capture stands in
for the CUDA recording (recording.py: eager work, a graph's buffers); the tests marked `gpu`
record real graphs."""

from __future__ import annotations

import io
import logging
import threading
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from dreamcore.config import EngineConfig
from dreamcore.engine.batching import StepBatcher, batched_gradients
from dreamcore.engine.deepdream import dream
from dreamcore.engine.device import placement
from dreamcore.engine.dreamer import Dreamer
from dreamcore.engine.featurenet import FeatureNet, Preprocess, simple_stage
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.graphs import (
    Captured,
    GraphCache,
    LayerOutputs,
    capture_cuda,
)
from dreamcore.engine.models import build_model
from dreamcore.engine.objectives import LayerObjective
from dreamcore.engine.precision import fastest_precision, graphed_step
from dreamcore.request import DreamRequest, make_params
from tests.helpers import noise_png

MiB = 2**20


@pytest.fixture(scope="module")
def net():
    return Dreamer(EngineConfig(models=("tiny",), device="cpu", precision="fp32")).model("tiny")


def _image(h: int, w: int, seed: int, device: str = "cpu") -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 3, h, w, generator=g) * 255).to(device)  # 1 x 3 x H x W


class FakeCapture:
    """Stands in for capture_cuda on the CPU: the module's eager forward and backward, but its
    outputs and its input gradient live in buffers that every call overwrites, as a replayed
    graph's do. Records what it captured; `fail` makes it raise as a failed capture would."""

    def __init__(self, cost: int = 100 * MiB, fail: bool = False) -> None:
        self.cost, self.fail = cost, fail
        self.captured: list[tuple[tuple[str, ...], tuple[int, ...]]] = []  # (layers, N x 3 x H x W)
        self.grad_buffers: list[Tensor] = []

    def __call__(self, module: LayerOutputs, template: Tensor) -> Captured:
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        self.captured.append((module.layers, tuple(template.shape)))
        grad_buffer = torch.zeros_like(template)
        self.grad_buffers.append(grad_buffer)
        out_buffers: list[Tensor] = []

        class Replay(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):  # type: ignore[override]
                assert x.shape == template.shape, "a graph runs only the shape it recorded"
                with torch.enable_grad():
                    inner = x.detach().requires_grad_(True)
                    outs = module(inner)
                ctx.inner, ctx.outs = inner, outs
                if not out_buffers:
                    out_buffers.extend(torch.empty_like(o) for o in outs)
                for buffer, o in zip(out_buffers, outs, strict=True):
                    buffer.copy_(o.detach())
                return tuple(b.detach() for b in out_buffers)

            @staticmethod
            def backward(ctx, *grads):  # type: ignore[override]
                (g,) = torch.autograd.grad(ctx.outs, ctx.inner, grads)
                grad_buffer.copy_(g)
                return grad_buffer.detach()  # autograd makes it x.grad as it is: no copy

        return Captured(lambda x: Replay.apply(x), self.cost)


def _cache(capture: FakeCapture, **kwargs) -> GraphCache:
    """A cache that captures a key on its first use (the threshold has a test of its own)."""
    return GraphCache(capture=capture, **{"capture_after": 1, **kwargs})


def _key(cache: GraphCache, net, layer: str = "relu3", n: int = 1, padded=(64, 64), **grad):
    gradient = Gradient(net, LayerObjective(layer), **grad)
    return cache.key_for(gradient, n, padded, torch.device("cpu"))


# --- the cache ------------------------------------------------------------------------------


def test_batches_are_padded_up_to_powers_of_two_at_most_max_batch():
    cache = GraphCache(max_batch=16, capture=FakeCapture())
    assert [cache.batch_for(n) for n in (1, 2, 3, 4, 5, 8, 9, 16)] == [1, 2, 4, 4, 8, 8, 16, 16]
    twelve = GraphCache(max_batch=12, capture=FakeCapture())
    assert [twelve.batch_for(n) for n in (5, 9, 12)] == [8, 12, 12]


def test_the_key_holds_batch_shape_layers_precision_and_layout(net):
    cache = _cache(FakeCapture())
    base = _key(cache, net, n=3)
    assert base is not None and base.batch == 4 and (base.height, base.width) == (64, 64)
    assert _key(cache, net, n=4) == base  # same bucket: one graph
    bf16 = partial(torch.autocast, device_type="cpu", dtype=torch.bfloat16)
    others = [
        _key(cache, net, n=5),
        _key(cache, net, n=3, padded=(64, 128)),
        _key(cache, net, "relu2", n=3),
        _key(cache, net, n=3, autocast=bf16),
        _key(cache, net, n=3, channels_last=True),
        _key(cache, build_model("tiny"), n=3),  # another network
    ]
    assert all(k is not None and k != base for k in others)
    assert len(set(others)) == len(others)
    assert others[3] is not None and others[3].autocast == torch.bfloat16
    # an autocast it can't read: the step is not graphed
    assert _key(cache, net, n=3, autocast=lambda: torch.no_grad()) is None


def test_a_key_is_captured_on_its_third_use_and_runs_eager_before(net):
    capture = FakeCapture()
    cache = GraphCache(capture=capture)  # the default threshold
    gradient = Gradient(net, LayerObjective("relu3"))
    crops = [_image(60, 50, 1), _image(64, 64, 2)]
    eager = batched_gradients([(gradient, c) for c in crops], (64, 64))
    once = _key(cache, net, n=1)  # another shape, met once: never captured
    assert once is not None and cache.forward(once, net, _image(64, 64, 1)) is None
    for use in (1, 2, 3, 4):
        grads = batched_gradients([(gradient, c) for c in crops], (64, 64), graphs=cache)
        for g, e in zip(grads, eager, strict=True):
            assert (g - e).abs().max() < 1e-4  # eager or replayed, the same gradient
        assert (len(capture.captured), len(cache)) == ((0, 0) if use < 3 else (1, 1))
    assert cache.stats.replays == 2 and once not in cache and not cache.runs_eager(once)


def test_least_recently_used_graphs_go_first_when_there_are_too_many(net):
    capture = FakeCapture()
    cache = _cache(capture, max_entries=2)
    a, b, c = (_key(cache, net, n=n) for n in (1, 2, 4))
    x = _image(64, 64, 1)
    for key in (a, b, a, c):  # a used again after b: b is the oldest when c comes
        assert key is not None
        assert cache.forward(key, net, x.expand(key.batch, -1, -1, -1)) is not None
    assert a in cache and c in cache and b not in cache
    assert (len(capture.captured), cache.stats.evictions, len(cache)) == (3, 1, 2)


def test_graphs_go_when_they_hold_more_memory_than_allowed(net):
    cache = _cache(FakeCapture(cost=100 * MiB), max_mb=250)
    keys = [_key(cache, net, n=n) for n in (1, 2, 4)]
    for key in keys:
        assert key is not None
        cache.forward(key, net, _image(64, 64, 1).expand(key.batch, -1, -1, -1))
    assert keys[0] not in cache and keys[1] in cache and keys[2] in cache
    assert cache.stats.held == 200 * MiB and cache.stats.evictions == 1


def test_a_graph_larger_than_the_whole_budget_runs_eager(net):
    capture = FakeCapture(cost=300 * MiB)
    cache = _cache(capture, max_mb=250)
    key = _key(cache, net)
    assert key is not None
    assert cache.forward(key, net, _image(64, 64, 1)) is None
    assert cache.runs_eager(key) and len(cache) == 0 and cache.stats.held == 0
    assert _key(cache, net) is None  # asked again: eager, not captured again
    assert len(capture.captured) == 1


def test_a_failed_capture_is_warned_once_and_that_key_runs_eager(net, caplog):
    capture = FakeCapture(fail=True)
    cache = _cache(capture)
    crops = [_image(60, 50, 1), _image(64, 64, 2)]
    gradient = Gradient(net, LayerObjective("relu3"))
    eager = batched_gradients([(gradient, c) for c in crops], (64, 64))
    with caplog.at_level(logging.WARNING, logger="dreamcore.engine.graphs"):
        for _ in range(3):
            grads = batched_gradients([(gradient, c) for c in crops], (64, 64), graphs=cache)
            for g, e in zip(grads, eager, strict=True):
                assert g.shape == e.shape and (g - e).abs().max() < 1e-4
    warnings = [r for r in caplog.records if "capture failed" in r.getMessage()]
    assert len(warnings) == 1 and "relu3 at 2 x 64 x 64" in warnings[0].getMessage()
    assert cache.stats.failures == 1 and len(cache) == 0


def test_a_replay_that_raises_is_dropped_and_the_step_runs_eager(net, caplog):
    class Broken(FakeCapture):
        def __call__(self, module, template):
            return Captured(self._raise, self.cost)

        def _raise(self, x):
            raise RuntimeError("replay failed")

    cache = _cache(Broken())
    gradient = Gradient(net, LayerObjective("relu3"))
    crop = _image(64, 64, 1)
    with caplog.at_level(logging.WARNING, logger="dreamcore.engine.graphs"):
        (g,) = batched_gradients([(gradient, crop)], (64, 64), graphs=cache)
    (e,) = batched_gradients([(gradient, crop)], (64, 64))
    assert (g - e).abs().max() < 1e-4
    assert len(cache) == 0 and cache.stats.failures == 1
    assert any("failed to replay" in r.getMessage() for r in caplog.records)


# --- the step with graphs -------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 5])
def test_padding_the_batch_up_to_its_bucket_changes_no_images_gradient(net, n):
    capture = FakeCapture()
    cache = _cache(capture, max_batch=16)
    gradient = Gradient(net, LayerObjective("relu3"))
    crops = [_image(64 - 4 * i, 64 - 6 * i, i) for i in range(n)]  # sizes that share a bucket
    items = [(gradient, c) for c in crops]
    graphed = batched_gradients(items, (64, 64), graphs=cache)
    eager = batched_gradients(items, (64, 64))
    assert capture.captured == [(("relu3",), (cache.batch_for(n), 3, 64, 64))]  # padded: 4, 8
    for g, e, c in zip(graphed, eager, crops, strict=True):
        assert g.shape == c.shape
        assert (g - e).abs().max() <= 1e-5 * e.abs().max()


def test_a_gradient_returned_is_not_changed_by_a_later_step(net):
    capture = FakeCapture()
    cache = _cache(capture)
    gradient = Gradient(net, LayerObjective("relu3"))
    first, second = _image(64, 64, 1), _image(64, 64, 2)
    (kept,) = batched_gradients([(gradient, first)], (64, 64), graphs=cache)
    expected = kept.clone()
    (later,) = batched_gradients([(gradient, second)], (64, 64), graphs=cache)
    assert len(capture.captured) == 1  # the same graph replayed
    buffer = capture.grad_buffers[0]
    assert torch.equal(buffer, later)  # the buffer now holds the later step's gradient ...
    assert not torch.equal(later, expected)
    assert torch.equal(kept, expected)  # ... and the first result is its own copy
    assert kept.untyped_storage().data_ptr() != buffer.untyped_storage().data_ptr()


def test_dreams_through_a_batcher_with_graphs_equal_eager_dreams(net):
    def run(graphs: GraphCache | None) -> Tensor:
        batcher = StepBatcher(graphs=graphs)
        gradient = Gradient(net, LayerObjective("relu3"), batcher=batcher)
        params = make_params(model="tiny", layer="relu3", octaves=2, steps=3, seed=4)
        with batcher.dreaming():
            return dream(
                _image(90, 70, 4),
                gradient,
                params,
                min_side=16,
                generator=torch.Generator().manual_seed(4),
            )

    capture = FakeCapture()
    graphed, eager = run(_cache(capture)), run(None)
    assert len(capture.captured) == 2  # one graph per octave's padded shape, replayed per step
    assert (graphed - eager).abs().max() < 1e-3


# --- the dreamer and the precision probe ------------------------------------------------------


def test_the_cpu_never_graphs_and_says_so_once_when_asked_to(caplog):
    with caplog.at_level(logging.INFO, logger="dreamcore.engine.dreamer"):
        asked = Dreamer(
            EngineConfig(models=("tiny",), device="cpu", batching="on", cuda_graphs="on")
        )
    notes = [r for r in caplog.records if "cuda_graphs" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO
    assert asked.graphs is None and asked.batcher is not None and asked.batcher.graphs is None
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dreamcore.engine.dreamer"):
        auto = Dreamer(EngineConfig(models=("tiny",), device="cpu", batching="on"))
    assert auto.graphs is None and not caplog.records  # auto: no graphs, nothing to say
    data = noise_png((64, 48))
    r = asked.run(DreamRequest(image=data, params=make_params(model="tiny", octaves=1, steps=2)))
    assert Image.open(io.BytesIO(r.image)).size == (64, 48)


def test_the_precision_probe_times_the_graphed_step_when_asked(net):
    capture = FakeCapture()
    place = placement(EngineConfig(device="cpu", precision="fp32"))
    best = fastest_precision(
        net,
        place,
        ["relu3"],
        batch=2,
        shape=(32, 32),
        repeats=1,
        step=partial(graphed_step, capture=capture),
    )
    assert best in ("fp32", "bf16", "fp16")
    assert capture.captured == [(("relu3",), (2, 3, 32, 32))] * 3  # one graph per candidate


def test_the_precision_probe_times_eager_where_the_capture_fails(net, caplog):
    place = placement(EngineConfig(device="cpu", precision="fp32"))
    with caplog.at_level(logging.WARNING, logger="dreamcore.engine.precision"):
        best = fastest_precision(
            net,
            place,
            ["relu3"],
            batch=1,
            shape=(32, 32),
            repeats=1,
            candidates=("fp32",),
            step=partial(graphed_step, capture=FakeCapture(fail=True)),
        )
    assert best == "fp32" and any("timing eager" in r.getMessage() for r in caplog.records)


def test_the_real_capture_refuses_the_cpu(net):
    with pytest.raises(RuntimeError, match="CUDA device"):
        capture_cuda(LayerOutputs(net, ("relu3",), None), _image(32, 32, 1))


# --- on a GPU ---------------------------------------------------------------------------------


@pytest.fixture
def exact_fp32():
    """No TF32 (cuDNN and cuBLAS would otherwise round fp32 convolutions to 10-bit mantissas)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _cuda_net(name: str = "vgg16-hed") -> FeatureNet:
    dreamer = Dreamer(EngineConfig(models=(name,), device="cuda", precision="fp32"))
    return dreamer.model(name)


def _relative(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.gpu
def test_graphed_gradients_equal_eager_ones_on_cuda(exact_fp32):
    net = _cuda_net()
    cache = GraphCache(capture_after=1)
    gradient = Gradient(net, LayerObjective("relu3_3"), channels_last=True)
    for seed in (1, 2, 3):  # the first call captures, the others replay with new pixels
        crops = [_image(128 - 16 * i, 128, seed + i, "cuda") for i in range(4)]
        items = [(gradient, c) for c in crops]
        graphed = batched_gradients(items, (128, 128), graphs=cache)
        eager = batched_gradients(items, (128, 128))
        for g, e in zip(graphed, eager, strict=True):
            assert _relative(g, e) < 1e-4
    assert (cache.stats.captures, cache.stats.failures, len(cache)) == (1, 0, 1)
    assert cache.stats.held > 0


@pytest.mark.gpu
def test_a_padded_graphed_batch_equals_the_unpadded_eager_one_on_cuda(exact_fp32):
    net = _cuda_net()
    cache = GraphCache(capture_after=1)
    gradient = Gradient(net, LayerObjective("relu3_3"), channels_last=True)
    crops = [_image(120, 100 + 8 * i, i, "cuda") for i in range(3)]  # batch 3: graphed at 4
    items = [(gradient, c) for c in crops]
    graphed = batched_gradients(items, (128, 128), graphs=cache)
    kept = [g.clone() for g in graphed]
    eager = batched_gradients(items, (128, 128))
    for g, e in zip(graphed, eager, strict=True):
        assert _relative(g, e) < 1e-4
    batched_gradients([(gradient, c.flip(-1)) for c in crops], (128, 128), graphs=cache)
    assert all(torch.equal(a, b) for a, b in zip(graphed, kept, strict=True))  # not overwritten


@pytest.mark.gpu
def test_a_bf16_graph_runs_under_autocast_on_cuda():
    net = _cuda_net()
    bf16 = partial(torch.autocast, device_type="cuda", dtype=torch.bfloat16)
    gradient = Gradient(net, LayerObjective("relu3_3"), autocast=bf16, channels_last=True)
    crops = [_image(128, 128, i, "cuda") for i in range(2)]
    cache = GraphCache(capture_after=1)
    key = cache.key_for(gradient, 2, (128, 128), torch.device("cuda"))
    assert key is not None and key.autocast == torch.bfloat16
    x = torch.cat(crops).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    forward = cache.forward(key, net, x)
    assert forward is not None and forward(x)[0].dtype == torch.bfloat16
    graphed = batched_gradients([(gradient, c) for c in crops], (128, 128), graphs=cache)
    eager = batched_gradients([(gradient, c) for c in crops], (128, 128))
    for g, e in zip(graphed, eager, strict=True):
        assert _relative(g, e) < 1e-2


@pytest.mark.gpu
def test_a_dream_with_graphs_equals_the_eager_dream_on_cuda():
    def pixels(graphs: str) -> tuple[np.ndarray, Dreamer]:
        dreamer = Dreamer(
            EngineConfig(models=("tiny",), device="cuda", precision="fp32", cuda_graphs=graphs)
        )
        params = make_params(model="tiny", octaves=3, steps=4, seed=5)
        result = dreamer.run(DreamRequest(image=noise_png((160, 120), seed=5), params=params))
        image = Image.open(io.BytesIO(result.image)).convert("RGB")
        return np.asarray(image, dtype=np.int16), dreamer

    graphed, with_graphs = pixels("auto")
    eager, without = pixels("off")
    assert without.graphs is None
    assert with_graphs.graphs is not None and with_graphs.graphs.stats.captures >= 3
    assert with_graphs.graphs.stats.failures == 0
    assert np.abs(graphed - eager).max() <= 1  # rounding may flip a grey level


@pytest.mark.gpu
def test_dreams_held_at_once_with_graphs_equal_their_eager_runs_on_cuda():
    """Captures happen while other dreams' threads work (thread-local capture mode)."""
    requests = [
        DreamRequest(
            image=noise_png(size, seed=seed),
            params=make_params(model="tiny", octaves=3, steps=3, seed=seed),
        )
        for size, seed in (((160, 120), 1), ((160, 120), 2), ((200, 96), 3), ((96, 96), 4))
    ]

    def images(graphs: str, together: bool) -> tuple[list[np.ndarray], Dreamer]:
        config = EngineConfig(models=("tiny",), device="cuda", precision="fp32", cuda_graphs=graphs)
        dreamer = Dreamer(config)
        out: list[np.ndarray | None] = [None] * len(requests)

        def work(i: int) -> None:
            data = dreamer.run(requests[i]).image
            out[i] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
            if not together:
                t.join()
        for t in threads:
            t.join(timeout=300)
        assert all(o is not None for o in out)
        return [o for o in out if o is not None], dreamer

    eager, _ = images("off", together=False)
    graphed, dreamer = images("auto", together=True)
    assert dreamer.graphs is not None and dreamer.graphs.stats.failures == 0
    for a, b in zip(eager, graphed, strict=True):
        assert np.abs(a - b).max() <= 1


class _Syncing(FeatureNet):
    """A network that reads a value back to the host mid-forward: fine eager, not capturable."""

    def __init__(self) -> None:
        super().__init__()
        self.preprocess = Preprocess(mean=(127.5, 127.5, 127.5))
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        for p in self.parameters():
            p.requires_grad_(False)

    def stages(self):
        return [simple_stage("conv", self.conv), simple_stage("synced", self._synced)]

    def _synced(self, x: Tensor) -> Tensor:
        return x * float(x.detach().abs().amax() > 0)  # a host sync: stops a capture


@pytest.mark.gpu
def test_a_capture_that_fails_on_cuda_falls_back_to_eager():
    net = _Syncing().cuda()
    cache = GraphCache(capture_after=1)
    gradient = Gradient(net, LayerObjective("synced"))
    crops = [_image(64, 64, i, "cuda") for i in range(2)]
    graphed = batched_gradients([(gradient, c) for c in crops], (64, 64), graphs=cache)
    eager = batched_gradients([(gradient, c) for c in crops], (64, 64))
    for g, e in zip(graphed, eager, strict=True):
        assert _relative(g, e) < 1e-5
    assert cache.stats.failures == 1 and len(cache) == 0
    key = cache.key_for(gradient, 2, (64, 64), torch.device("cuda"))
    assert key is None  # remembered: eager from now on
    torch.cuda.synchronize()  # and the device is still sound
