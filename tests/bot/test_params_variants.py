"""How /dream variants:N chooses its targets (bot/params.py `variants`): pure."""

import random

import pytest

from bot.params import variants
from dreamcore.request import make_params


def _targets(out):
    return [p.layer for p in out]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_each_variant_is_another_channel_of_the_chosen_layer(n):
    out = variants(make_params(model="tiny", layer="relu2", steps=3), n, random.Random(1))
    layers = _targets(out)
    assert len(out) == n and len(set(layers)) == n
    assert all(layer.startswith("relu2:") for layer in layers)
    assert all(0 <= int(layer.split(":")[1]) < 16 for layer in layers)  # relu2 is 16 wide
    assert len({p.seed for p in out}) == n and None not in {p.seed for p in out}  # shown
    assert all(p.steps == 3 for p in out)  # everything else as asked


def test_a_channel_asked_for_comes_first_and_a_seed_asked_for_too():
    out = variants(make_params(model="tiny", layer="relu2:5", seed=9), 3, random.Random(2))
    assert out[0].layer == "relu2:5" and out[0].seed == 9
    assert len(set(_targets(out))) == 3


def test_the_default_layer_is_split_when_none_was_chosen():
    out = variants(make_params(model="tiny"), 2, random.Random(3))
    assert all(layer.startswith("relu3:") for layer in _targets(out))


@pytest.mark.parametrize(
    "values",
    [
        {"layer": "relu1 + relu3*0.5"},  # a mix: no one layer to split
        {"target_class": "banana"},
        {"layer": "relu2", "guided": True},  # a guide matches whole layers
    ],
)
def test_what_has_no_one_layer_to_split_differs_by_seed(values):
    params = make_params(model="tiny", **values)
    out = variants(params, 3, random.Random(4))
    assert len({p.seed for p in out}) == 3
    assert all(p.model_copy(update={"seed": None}) == params for p in out)
