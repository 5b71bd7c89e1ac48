import pytest
import torch

from dreamcore.engine.dream import DreamConfig, Gradient, dream, octave_sizes, tile_spans
from dreamcore.engine.models import build_model
from dreamcore.engine.objectives import LayerObjective
from dreamcore.errors import DreamCancelled


@pytest.fixture(scope="module")
def tiny():
    return build_model("tiny")


def test_octave_sizes_smallest_first_ending_at_full_size():
    sizes = octave_sizes(300, 451, octaves=4, scale=1.4, min_side=32)
    assert sizes[-1] == (300, 451)
    assert sizes[0] == (round(300 / 1.4**3), round(451 / 1.4**3))
    assert all(a[0] < b[0] for a, b in zip(sizes, sizes[1:], strict=False))


def test_octaves_too_small_for_the_network_are_dropped():
    assert octave_sizes(40, 400, octaves=4, scale=1.4, min_side=32) == [(40, 400)]
    assert len(octave_sizes(64, 64, octaves=8, scale=2.0, min_side=32)) == 2


def test_tile_spans_cover_the_axis_once_aligned_to_the_stride():
    spans = tile_spans(1000, 256, 32)
    cores = [(c0, c1) for _, _, c0, c1 in spans]
    assert cores[0][0] == 0 and cores[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(cores, cores[1:], strict=False))
    assert all(c0 % 32 == 0 and ctx0 % 32 == 0 for ctx0, _, c0, _ in spans)
    assert tile_spans(300, 256, 32) == [(0, 300, 0, 300)]  # fits: one tile, no margins


def test_tiled_gradient_equals_untiled_where_both_fit(tiny):
    image = torch.rand(1, 3, 150, 230) * 255
    objective = LayerObjective("relu3")
    whole = Gradient(tiny, objective, tile_size=4096)(image)
    tiled = Gradient(tiny, objective, tile_size=64, tile_margin=32)(image)  # 3 x 4 tiles
    assert torch.allclose(tiled, whole, rtol=1e-4, atol=1e-6 * whole.abs().max())


def test_tiled_objective_value_matches_untiled_for_a_pointwise_net(tiny):
    image = torch.rand(1, 3, 128, 128) * 255
    objective = LayerObjective("conv1")  # stride 1: tiles partition the activations exactly
    whole = Gradient(tiny, objective, tile_size=4096).objective_value(image)
    tiled = Gradient(tiny, objective, tile_size=64).objective_value(image)
    assert tiled == pytest.approx(whole, rel=0.02)  # only the zero-padded tile borders differ


def test_dream_keeps_size_and_pixel_range_and_changes_the_image(tiny):
    image = torch.rand(1, 3, 70, 90) * 255
    out = dream(image, Gradient(tiny, LayerObjective("relu2")), DreamConfig(octaves=3, steps=3),
                generator=torch.Generator().manual_seed(0))
    assert out.shape == image.shape
    assert out.min() >= 0 and out.max() <= 255
    assert (out - image).abs().mean() > 1.0


def test_progress_and_cancellation_between_steps(tiny):
    calls = []
    stop_after = 4

    def on_step(octave, octaves, step, steps, img):
        calls.append((octave, octaves, step, steps))

    with pytest.raises(DreamCancelled):
        dream(torch.rand(1, 3, 64, 64) * 255, Gradient(tiny, LayerObjective("relu1")),
              DreamConfig(octaves=2, steps=5, min_side=16), on_step=on_step,
              should_stop=lambda: len(calls) >= stop_after)
    assert calls == [(1, 2, s, 5) for s in range(1, 5)]


def test_seeded_dreams_are_reproducible_and_seeds_matter(tiny):
    image = torch.rand(1, 3, 64, 64) * 255
    grad = Gradient(tiny, LayerObjective("relu3", channel=5))
    run = lambda seed: dream(image, grad, DreamConfig(octaves=2, steps=3, min_side=16),  # noqa: E731
                             generator=torch.Generator().manual_seed(seed))
    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_channel_objective_only_sees_its_channel(tiny):
    acts = {"relu3": torch.zeros(1, 32, 4, 4)}
    acts["relu3"][:, 7] = 2.0
    assert LayerObjective("relu3", 7).loss(acts) == 4.0 * 16
    assert LayerObjective("relu3", 6).loss(acts) == 0.0
    assert LayerObjective("relu3").count(acts) == 32 * 16
