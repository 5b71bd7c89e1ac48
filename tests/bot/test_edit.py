"""The Edit form's reading of what was submitted (bot/edit.py): pure, no Discord."""

import pytest

from bot import replies
from bot.edit import Submitted, edited
from dreamcore.errors import InvalidParams
from dreamcore.request import make_params

OLD = make_params(model="tiny", layer="conv1", seed=7, steps=10, octaves=4, strength=1.5)


def test_the_prefilled_form_changes_nothing():
    new, changes = edited(OLD, Submitted.prefilled(OLD))
    assert new == OLD and changes == []
    assert replies.changed_note(changes) == "changed: nothing (the same settings again)"


def test_changes_are_listed_in_the_forms_order_and_a_cleared_seed_is_random():
    form = Submitted("conv1:3", "2, 10, 5", "", "1", "original")
    new, changes = edited(OLD, form)
    assert (new.layer, new.strength, new.octaves, new.seed) == ("conv1:3", 2.0, 5, None)
    assert replies.changed_note(changes) == (
        "changed: layer conv1 → conv1:3, strength 1.5 → 2.0, octaves 4 → 5, seed 7 → random, "
        "smooth 0 → 1, colors dream → original"
    )


def test_a_cleared_layer_keeps_an_ordinary_dreams_layer():
    new, _ = edited(OLD, Submitted("", "1.5 10 4", "7", "0", "dream"))
    assert new.layer == "conv1"


@pytest.mark.parametrize(
    "numbers, seed",
    [("1.5, 10", "7"), ("1.5, 10, 4, 2", "7"), ("a, b, c", "7"), ("1.5, 10, 4", "x")],
)
def test_a_malformed_field_is_one_line(numbers, seed):
    with pytest.raises(InvalidParams) as err:
        edited(OLD, Submitted("conv1", numbers, seed, "0", "dream"))
    assert "\n" not in str(err.value)


def test_out_of_range_is_refused_by_the_params_own_rules():
    with pytest.raises(InvalidParams, match="steps"):
        edited(OLD, Submitted("conv1", "1.5, 101, 4", "7", "0", "dream"))
