import itertools

import pytest
import torch

from dreamcore.engine.deepdream import dream, octave_sizes
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.models import build_model
from dreamcore.engine.objectives import LayerObjective
from dreamcore.errors import DreamCancelled
from dreamcore.request import DreamParams


@pytest.fixture(scope="module")
def tiny():
    return build_model("tiny")


def test_octave_sizes_smallest_first_ending_at_full_size():
    sizes = octave_sizes(300, 451, octaves=4, scale=1.4, min_side=32)
    assert sizes[-1] == (300, 451)
    assert sizes[0] == (round(300 / 1.4**3), round(451 / 1.4**3))
    assert all(a[0] < b[0] for a, b in itertools.pairwise(sizes))


def test_octaves_too_small_for_the_network_are_dropped():
    assert octave_sizes(40, 400, octaves=4, scale=1.4, min_side=32) == [(40, 400)]
    assert len(octave_sizes(64, 64, octaves=8, scale=2.0, min_side=32)) == 2


def test_dream_keeps_size_and_pixel_range_and_changes_the_image(tiny):
    image = torch.rand(1, 3, 70, 90) * 255
    out = dream(
        image,
        Gradient(tiny, LayerObjective("relu2")),
        DreamParams(octaves=3, steps=3),
        generator=torch.Generator().manual_seed(0),
    )
    assert out.shape == image.shape
    assert out.min() >= 0 and out.max() <= 255
    assert (out - image).abs().mean() > 1.0


def test_progress_and_cancellation_between_steps(tiny):
    calls = []
    stop_after = 4

    def on_step(octave, octaves, step, steps, img):
        calls.append((octave, octaves, step, steps))

    with pytest.raises(DreamCancelled):
        dream(
            torch.rand(1, 3, 64, 64) * 255,
            Gradient(tiny, LayerObjective("relu1")),
            DreamParams(octaves=2, steps=5),
            min_side=16,
            on_step=on_step,
            should_stop=lambda: len(calls) >= stop_after,
        )
    assert calls == [(1, 2, s, 5) for s in range(1, 5)]


def test_seeded_dreams_are_reproducible_and_seeds_matter(tiny):
    image = torch.rand(1, 3, 64, 64) * 255
    grad = Gradient(tiny, LayerObjective("relu3", channel=5))

    def run(seed):
        params = DreamParams(octaves=2, steps=3)
        return dream(
            image, grad, params, min_side=16, generator=torch.Generator().manual_seed(seed)
        )

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))
