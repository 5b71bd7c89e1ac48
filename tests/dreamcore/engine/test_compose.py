"""From params to the objective: one term as is; a mix normalised so its weights mean what they
say; a guide's features taken once; a class's logit."""

import pytest
import torch

from dreamcore.engine.compose import objective_for
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.models import build_model
from dreamcore.engine.objectives import ClassObjective, GuideObjective, LayerObjective, Sum
from dreamcore.request import make_params


@pytest.fixture
def tiny():
    """The tiny net, an input, and the objective's total on it (what a mix normalises by)."""
    net = build_model("tiny")
    image = torch.rand(1, 3, 48, 48) * 255

    def total(objective):
        return Gradient(net, objective).objective_total(image)

    return net, image, total


def test_what_each_kind_of_params_becomes(tiny):
    net, _, total = tiny
    one = objective_for(make_params(model="tiny", layer="relu2:3"), net, total=total)
    assert isinstance(one, LayerObjective) and (one.layer, one.channel) == ("relu2", 3)
    banana = objective_for(make_params(model="tiny", target_class="banana"), net, total=total)
    assert isinstance(banana, ClassObjective) and banana.index == 954
    guide = torch.rand(1, 3, 40, 40) * 255
    guided = objective_for(
        make_params(model="tiny", layer="relu2", guided=True), net, total=total, guide=guide
    )
    assert isinstance(guided, GuideObjective) and guided.guide.shape[0] == 16  # C x M


def test_a_mix_weighs_each_term_by_its_own_size_on_the_input(tiny):
    net, image, total = tiny
    mix = objective_for(make_params(model="tiny", layer="relu1+relu3*0.5"), net, total=total)
    assert isinstance(mix, Sum)
    acts = net(image, mix.layers)
    parts = [term.loss(acts).item() for term in mix.terms]
    # on the input each term is its weight (relative to its own total): 1 and 0.5
    assert parts[0] == pytest.approx(1.0, rel=1e-3) and parts[1] == pytest.approx(0.5, rel=1e-3)
