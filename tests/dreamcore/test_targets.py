"""dreamcore.targets: the layer / channel / mix grammar users type."""

import pytest

from dreamcore.catalog import model_info
from dreamcore.errors import InvalidParams, UnknownLayer
from dreamcore.request import make_params
from dreamcore.targets import LayerTerm, format_terms, parse_terms

INFO = model_info("inception5h")


def test_round_trip_of_canonical_expressions():
    for text in ("mixed4c", "mixed4d:139", "mixed4c+mixed4d:139*0.5", "mixed3a*2+mixed5b"):
        assert format_terms(parse_terms(INFO, text)) == text


def test_aliases_spaces_and_weights():
    terms = parse_terms(INFO, " inception4c + mixed4d : 3 * 0.25 ")
    assert terms == (LayerTerm("mixed4c"), LayerTerm("mixed4d", 3, 0.25))


@pytest.mark.parametrize(
    "text,error,words",
    [
        ("mixed4c+mixed4x", UnknownLayer, "`mixed4x` in `mixed4c+mixed4x`"),
        ("mixed4c+", InvalidParams, "empty term"),
        ("mixed4d:x", InvalidParams, "whole number"),
        ("mixed4d:²", InvalidParams, "whole number"),  # a digit to isdigit(), not to int()
        ("mixed4d:528", InvalidParams, "0..527"),
        ("mixed4d*11", InvalidParams, "up to 10"),
        ("mixed4d*-1", InvalidParams, "over 0"),
        ("mixed4d*nan", InvalidParams, "over 0"),
        ("mixed4d+mixed4d", InvalidParams, "twice"),
    ],
)
def test_errors_name_the_bad_term(text, error, words):
    with pytest.raises(error, match=words.replace("+", r"\+").replace("*", r"\*")):
        parse_terms(INFO, text)


def test_a_superscript_channel_is_refused_in_one_friendly_line():
    # issue 19 #10: `mixed4c:²` passed isdigit() and failed in int() ("invalid literal")
    with pytest.raises(InvalidParams, match="must be a whole number") as err:
        make_params(layer="mixed4c:²")
    assert "invalid literal" not in str(err.value)
