"""Continuous batching: dreams stepped together equal the same dreams stepped alone, whatever
their sizes, layers and seeds, and dreams may join and leave (a cancel) between steps."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from dreamcore.config import EngineConfig
from dreamcore.engine.batching import StepBatcher, _own_positions
from dreamcore.engine.deepdream import dream
from dreamcore.engine.dreamer import Dreamer
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.objectives import LayerObjective
from dreamcore.errors import DreamCancelled
from dreamcore.request import DreamRequest, make_params
from tests.helpers import noise_png

ROUNDING = 1e-3  # in 0..255 pixel units: far below one grey level


@pytest.fixture(scope="module")
def net():
    return Dreamer(EngineConfig(models=("tiny",), device="cpu")).model("tiny")


def _image(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g) * 255  # 1 x 3 x H x W


# (size, layer, seed): three sizes that share a padded bucket at full size, two layers
DREAMS = [((96, 80), "relu3", 1), ((90, 70), "relu3", 2), ((110, 100), "relu2", 3)]


def _dream_all(net, batcher: StepBatcher, together: bool, stop_after: dict[int, int] | None = None):
    """Each dream of DREAMS on its own thread (together) or one after another (alone)."""
    results: list[torch.Tensor | Exception | None] = [None] * len(DREAMS)
    start = threading.Barrier(len(DREAMS) if together else 1)

    def work(i: int) -> None:
        (h, w), layer, seed = DREAMS[i]
        params = make_params(model="tiny", layer=layer, octaves=2, steps=4, seed=seed)
        gradient = Gradient(net, LayerObjective(layer), batcher=batcher)
        steps = iter(range(10**6))
        limit = (stop_after or {}).get(i)
        try:
            with batcher.dreaming():
                start.wait()  # all dreams stepping before the first ask: they batch from step 1
                results[i] = dream(
                    _image(h, w, seed),
                    gradient,
                    params,
                    min_side=16,
                    generator=torch.Generator().manual_seed(seed),
                    should_stop=lambda: limit is not None and next(steps) >= limit,
                )
        except DreamCancelled as stopped:
            results[i] = stopped

    if together:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(DREAMS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    else:
        for i in range(len(DREAMS)):
            work(i)
    return results


def test_dreams_stepped_together_equal_the_same_dreams_alone(net):
    alone_batcher, together_batcher = StepBatcher(), StepBatcher()
    alone = _dream_all(net, alone_batcher, together=False)
    together = _dream_all(net, together_batcher, together=True)
    assert alone_batcher.stats.largest == 1
    assert together_batcher.stats.largest == 2  # the two relu3 dreams share a padded shape
    for a, b in zip(alone, together, strict=True):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
        assert a.shape == b.shape
        assert (a - b).abs().max() < ROUNDING


def _lone_gradient(net, crop: torch.Tensor, bucket: int) -> torch.Tensor:
    batcher = StepBatcher(bucket=bucket)
    gradient = Gradient(net, LayerObjective("relu3"), batcher=batcher)
    with batcher.dreaming():
        return gradient(crop)


def test_a_crop_is_padded_to_its_bucket_and_its_loss_taken_over_its_own_positions(net):
    plain = Gradient(net, LayerObjective("relu3"))
    exact = _image(64, 64, 9)  # already a bucket's size: the batched path is the plain one
    assert (_lone_gradient(net, exact, 64) - plain(exact)).abs().max() < 1e-6
    crop = _image(40, 50, 9)  # padded to 64 x 64: only its border sees the padding
    padded = _lone_gradient(net, crop, 64)
    assert padded.shape == crop.shape
    inside = (
        slice(None),
        slice(None),
        slice(12, -12),
        slice(12, -12),
    )  # beyond the receptive field
    assert (padded - plain(crop))[inside].abs().max() < 1e-6
    assert _own_positions(torch.ones(1, 8, 16, 16), 40 / 64, 50 / 64).shape == (1, 8, 10, 13)
    assert _own_positions(torch.ones(1, 1000), 0.5, 0.5).shape == (1, 1000)  # logits: all own


def test_a_dream_leaving_midway_lets_the_others_finish_unchanged(net):
    alone = _dream_all(net, StepBatcher(), together=False)
    together = _dream_all(net, StepBatcher(), together=True, stop_after={0: 3})
    assert isinstance(together[0], DreamCancelled)
    for a, b in zip(alone[1:], together[1:], strict=True):
        assert isinstance(b, torch.Tensor) and (a - b).abs().max() < ROUNDING


def test_an_error_in_a_batch_fails_each_of_its_dreams_and_no_other():
    class Broken(torch.nn.Module):
        dtype = torch.float32

        def forward(self, x, layers):
            raise RuntimeError("boom")

    batcher = StepBatcher()
    gradient = Gradient(Broken(), LayerObjective("relu3"), batcher=batcher)  # type: ignore[arg-type]
    with batcher.dreaming(), pytest.raises(RuntimeError, match="boom"):
        gradient(_image(32, 32, 1))
    assert batcher.stats.batches == 0


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_the_dreamer_batches_the_jobs_it_runs_at_once_and_each_equals_its_lone_run():
    dreamer = Dreamer(EngineConfig(models=("tiny",), device="cpu", batching="on"))
    assert dreamer.batcher is not None
    requests = [
        DreamRequest(
            image=noise_png(size, seed=seed),
            params=make_params(model="tiny", octaves=2, steps=3, seed=seed),
        )
        for size, seed in (((120, 90), 1), ((110, 100), 2), ((128, 64), 3))
    ]
    alone = [dreamer.run(r).image for r in requests]
    assert dreamer.batcher.stats.largest == 1
    together: list[bytes | None] = [None] * len(requests)

    def work(i: int) -> None:
        together[i] = dreamer.run(requests[i]).image

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for a, b in zip(alone, together, strict=True):
        assert b is not None
        assert np.abs(_pixels(a) - _pixels(b)).max() <= 1  # rounding may flip a grey level


def test_batching_is_off_on_the_cpu_by_default():
    assert Dreamer(EngineConfig(models=("tiny",), device="cpu")).batcher is None


def test_a_dream_encoding_its_preview_does_not_hold_up_the_others(monkeypatch):
    # A dream making a preview steps aside: the batcher would otherwise wait for its next ask,
    # and every dream in the worker would wait on one dream's JPEG encoding.
    import dreamcore.engine.dreamer as dreamer_module

    dreamer = Dreamer(EngineConfig(models=("tiny",), device="cpu", batching="on"))
    encoding, release = threading.Event(), threading.Event()
    real_encode = dreamer_module.encode_preview

    def held_encode(image, side):
        encoding.set()
        release.wait(timeout=600)  # the test lets it go (the bound only ends a broken run)
        return real_encode(image, side)

    monkeypatch.setattr(dreamer_module, "encode_preview", held_encode)

    def request(seed: int, preview: bool) -> DreamRequest:
        params = make_params(model="tiny", octaves=2, steps=2, seed=seed)
        return DreamRequest(image=noise_png((96, 80), seed=seed), params=params, preview=preview)

    results: dict[str, object] = {}

    def work(name: str, req: DreamRequest) -> None:
        results[name] = dreamer.run(req, on_progress=lambda _: None)

    previewing = threading.Thread(target=work, args=("previewing", request(1, True)))
    previewing.start()
    assert encoding.wait(timeout=300), "the first dream never reached its preview"
    plain = threading.Thread(target=work, args=("plain", request(2, False)))
    plain.start()  # while the first is held in its preview, between two of its steps
    plain.join(timeout=240)
    try:
        assert "plain" in results, "a dream waited on another's preview"
        assert previewing.is_alive()  # still held: the other finished beside it, not after it
    finally:
        release.set()
        previewing.join(timeout=300)
    assert "previewing" in results
