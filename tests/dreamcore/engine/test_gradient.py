import itertools

import pytest
import torch

from dreamcore.engine.gradient import Gradient, tile_spans
from dreamcore.engine.models import build_model
from dreamcore.engine.objectives import LayerObjective


@pytest.fixture(scope="module")
def tiny():
    return build_model("tiny")


def test_tile_spans_cover_the_axis_once_aligned_to_the_stride():
    spans = tile_spans(1000, 256, 32)
    cores = [(c0, c1) for _, _, c0, c1 in spans]
    assert cores[0][0] == 0 and cores[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cores))
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
