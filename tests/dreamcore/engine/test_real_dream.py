"""Dreaming really works: a trained network (vgg16-hed, offline weights) on a real photo.

Structure measure: the correlation between horizontally (and vertically) neighbouring pixels of
the change the dream made. Independent noise of the same strength scores ~0; the patterns a
trained network paints (rings, contours) are smooth over several pixels and score high.
"""

import io

import numpy as np
import pytest
from PIL import Image

from dreamcore.config import EngineConfig
from dreamcore.engine.dreamer import Dreamer
from dreamcore.engine.models import build_model
from dreamcore.request import DreamRequest, make_params
from tests.helpers import photo


def neighbour_correlation(diff: np.ndarray) -> float:
    """Mean of horizontal and vertical lag-1 correlation of an H x W x C array."""
    h = np.corrcoef(diff[:, :-1].ravel(), diff[:, 1:].ravel())[0, 1]
    v = np.corrcoef(diff[:-1, :].ravel(), diff[1:, :].ravel())[0, 1]
    return float((h + v) / 2)


PARAMS = make_params(model="vgg16-hed", layer="relu4_3", octaves=3, steps=8, seed=7, max_side=320)


@pytest.fixture(scope="module")
def dreamed():
    source = photo("chelsea.jpg")
    result = Dreamer(EngineConfig(models=("vgg16-hed",), device="cpu")).run(
        DreamRequest(image=source, params=PARAMS)
    )
    before = (
        Image.open(io.BytesIO(source))
        .convert("RGB")
        .resize((result.width, result.height), Image.LANCZOS)
    )
    after = Image.open(io.BytesIO(result.image)).convert("RGB")
    return result, np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)


def test_objective_rises_at_least_threefold(dreamed):
    result, _, _ = dreamed
    assert result.objective_end >= 3 * result.objective_start, (
        result.objective_start,
        result.objective_end,
    )


def test_trained_features_rise_far_more_than_a_random_network_of_the_same_shape(dreamed):
    # Control: the same architecture and settings with random weights. Any network's objective
    # rises somewhat under gradient ascent; learned features respond much more strongly.
    result, _, _ = dreamed
    control = Dreamer(EngineConfig(models=("vgg16-hed",), device="cpu"))
    control.add_model("vgg16-hed", build_model("vgg16-hed", pretrained=False))
    random_result = control.run(DreamRequest(image=photo("chelsea.jpg"), params=PARAMS))
    trained_rise = result.objective_end / result.objective_start
    random_rise = random_result.objective_end / random_result.objective_start
    assert trained_rise > 2.5 * random_rise, (trained_rise, random_rise)


def test_the_change_is_visible_and_structured_not_noise(dreamed):
    _, before, after = dreamed
    diff = after - before
    assert np.abs(diff).mean() > 10  # a visible change, in 0..255 units
    rng = np.random.default_rng(0)
    noise = rng.normal(0, diff.std(), size=diff.shape)
    assert neighbour_correlation(noise) < 0.05  # the measure gives ~0 for noise of equal strength
    assert neighbour_correlation(diff) > 0.6


def test_the_dream_follows_the_photo(dreamed):
    # The photo still shows through: the dream correlates with its source far above chance.
    _, before, after = dreamed
    assert np.corrcoef(before.ravel(), after.ravel())[0, 1] > 0.3
