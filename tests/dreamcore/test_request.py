import pickle

import pytest
from pydantic import ValidationError

from dreamcore.catalog import MODELS, model_info
from dreamcore.errors import InvalidParams, UnknownLayer, UnknownModel
from dreamcore.request import DreamParams, DreamRequest, make_params


def test_defaults_are_the_classic_recipe():
    p = make_params()
    assert (p.model, p.layer, p.octaves, p.octave_scale, p.steps, p.strength, p.jitter) == (
        "inception5h",
        "mixed4c",
        4,
        1.4,
        10,
        1.5,
        32,
    )
    assert p.channel is None and p.max_side == 1024


def test_channel_suffix_is_split_and_checked():
    p = make_params(layer="mixed4d:139")
    assert (p.layer, p.channel, p.target) == ("mixed4d", 139, "mixed4d:139")
    p = make_params(layer="mixed4a_3x3_bottleneck_pre_relu:95")
    assert p.channel == 95
    with pytest.raises(InvalidParams, match=r"channels 0\.\.527"):
        make_params(layer="mixed4d:528")
    with pytest.raises(InvalidParams, match="whole number"):
        make_params(layer="mixed4d:x")


def test_unknown_layer_names_nearest_and_valid_ones():
    with pytest.raises(UnknownLayer) as err:
        make_params(layer="mixed4x")
    text = str(err.value)
    assert "Did you mean `mixed4e`?" in text and "mixed3a" in text and "mixed5b" in text


def test_unknown_model_suggests():
    with pytest.raises(UnknownModel, match="Did you mean `vgg16`"):
        make_params(model="vgg")


def test_aliases_resolve_to_canonical_names():
    assert make_params(model="googlenet", layer="mixed4d").layer == "inception4d"
    assert make_params(model="inception5h", layer="inception4d").layer == "mixed4d"


@pytest.mark.parametrize(
    "field,value",
    [
        ("octaves", 0),
        ("octaves", 9),
        ("steps", 0),
        ("steps", 101),
        ("strength", 0),
        ("jitter", -1),
        ("octave_scale", 1.0),
        ("max_side", 10),
        ("seed", -1),
    ],
)
def test_out_of_range_values_are_refused_with_the_field_named(field, value):
    with pytest.raises(InvalidParams, match=field):
        make_params(**{field: value})


def test_every_layer_of_every_model_validates():
    for info in MODELS.values():
        for layer in info.layers:
            assert make_params(model=info.name, layer=layer.name).layer == layer.name
        assert model_info(info.name).layer(info.default_layer)


def test_params_and_request_are_frozen_and_pickle():
    p = make_params(layer="mixed4d:3", seed=7)
    r = DreamRequest(image=b"abc", params=p, output_max_bytes=4096)
    assert pickle.loads(pickle.dumps(r)) == r
    with pytest.raises(ValidationError, match="frozen"):
        p.steps = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        DreamParams(unknown=1)  # type: ignore[call-arg]
