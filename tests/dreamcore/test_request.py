import pickle

import pytest
from pydantic import ValidationError

from dreamcore.catalog import MODELS, model_info
from dreamcore.errors import InvalidParams, UnknownLayer, UnknownModel
from dreamcore.request import DreamParams, DreamRequest, make_params
from dreamcore.targets import LayerTerm


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
    assert p.terms == (LayerTerm("mixed4c"),) and p.max_side == 1024
    assert (p.target_class, p.guided, p.smooth, p.colors) == (None, False, 0, "dream")


def test_a_channel_is_part_of_the_target_and_checked():
    p = make_params(layer="mixed4d:139")
    assert (p.layer, p.target, p.terms) == (
        "mixed4d:139",
        "mixed4d:139",
        (LayerTerm("mixed4d", 139),),
    )
    assert make_params(layer="mixed4d", channel=139) == p  # the same dream, spelled once
    p = make_params(layer="mixed4a_3x3_bottleneck_pre_relu:95")
    assert p.terms[0].channel == 95
    with pytest.raises(InvalidParams, match=r"channels 0\.\.527"):
        make_params(layer="mixed4d:528")
    with pytest.raises(InvalidParams, match="whole number"):
        make_params(layer="mixed4d:x")


def test_a_mix_is_canonical_and_its_errors_name_the_bad_term():
    p = make_params(model="googlenet", layer=" mixed4c + mixed4d:139 * 0.5 ")
    assert p.layer == "inception4c+inception4d:139*0.5"
    assert p.terms == (LayerTerm("inception4c"), LayerTerm("inception4d", 139, 0.5))
    with pytest.raises(UnknownLayer, match=r"`mixed4x` in `mixed4c\+mixed4x`.*`mixed4e`"):
        make_params(layer="mixed4c+mixed4x")
    with pytest.raises(InvalidParams, match=r"weight in `mixed4d\*0`"):
        make_params(layer="mixed4c+mixed4d*0")
    with pytest.raises(InvalidParams, match="empty term"):
        make_params(layer="mixed4c++mixed4d")
    with pytest.raises(InvalidParams, match="at most 4"):
        make_params(layer="mixed3a+mixed3b+mixed4a+mixed4b+mixed4c")
    with pytest.raises(InvalidParams, match="twice"):
        make_params(layer="mixed4c+mixed4c*2")


def test_class_targets_take_the_place_of_layers():
    p = make_params(model="googlenet", target_class="Banana")
    assert (p.target_class, p.layer, p.target, p.terms) == ("banana", None, "class:banana", ())
    with pytest.raises(InvalidParams, match="Did you mean"):
        make_params(model="vgg16", target_class="bananna split")
    with pytest.raises(InvalidParams, match="no classes to target"):
        make_params(model="vgg16-hed", target_class="banana")
    with pytest.raises(InvalidParams, match="inception5h's class names"):
        make_params(model="inception5h", target_class="banana")
    with pytest.raises(InvalidParams, match="use `class`"):
        make_params(model="googlenet", layer="logits:954")


def test_guides_need_whole_layers_and_the_image():
    assert make_params(guided=True, layer="mixed4c+mixed3b").guided
    with pytest.raises(InvalidParams, match="drop the `:channel`"):
        make_params(guided=True, layer="mixed4d:3")
    with pytest.raises(InvalidParams, match="not with `class`"):
        make_params(model="googlenet", guided=True, target_class="banana")
    with pytest.raises(InvalidParams, match="guide image"):
        DreamRequest(image=b"x", params=make_params(guided=True))
    with pytest.raises(InvalidParams, match="guide image"):
        DreamRequest(image=b"x", guide=b"y")


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
        ("smooth", 9),
        ("colors", "sepia"),
    ],
)
def test_out_of_range_values_are_refused_with_the_field_named(field, value):
    with pytest.raises(InvalidParams, match=field):
        make_params(**{field: value})


def test_every_layer_of_every_model_validates():
    for info in MODELS.values():
        for layer in info.layers:
            if layer.name == "logits":  # the classifier: dreamed with `class`, not as a layer
                continue
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
