"""What to dream, as users type it: one layer, one channel, or a weighted mix of them.

    mixed4c                 a layer (the mean of its squared activations)
    mixed4d:139             one channel of it
    mixed4c+mixed4d:139*0.5 a mix: each term normalised to its own size on the input, then
                            weighted, so the weights mean what they say

Torch-free: the bot validates and autocompletes with it; the engine builds objectives from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamcore.catalog import ModelInfo
from dreamcore.errors import InvalidParams

MAX_TERMS = 4
MAX_WEIGHT = 10.0
SYNTAX = (
    "`layer`, `layer:channel`, or a mix like `mixed4c+mixed4d:139*0.5` "
    f"(up to {MAX_TERMS} terms, weights over 0 and up to {MAX_WEIGHT:g})"
)


@dataclass(frozen=True)
class LayerTerm:
    layer: str
    channel: int | None = None
    weight: float = 1.0

    def text(self) -> str:
        out = self.layer if self.channel is None else f"{self.layer}:{self.channel}"
        return out if self.weight == 1.0 else f"{out}*{self.weight:g}"


def parse_terms(info: ModelInfo, text: str) -> tuple[LayerTerm, ...]:
    """Terms of a target expression, names made canonical; errors name the bad term."""
    parts = [part.strip() for part in text.split("+")]
    if not all(parts):
        raise InvalidParams(f"`{text}` has an empty term; write {SYNTAX}.")
    if len(parts) > MAX_TERMS:
        raise InvalidParams(f"`{text}` has {len(parts)} terms; at most {MAX_TERMS}.")
    terms = tuple(_term(info, part, whole=text) for part in parts)
    seen = [(t.layer, t.channel) for t in terms]
    if len(set(seen)) != len(seen):
        raise InvalidParams(f"`{text}` names the same layer or channel twice.")
    return terms


def format_terms(terms: tuple[LayerTerm, ...]) -> str:
    return "+".join(term.text() for term in terms)


def _term(info: ModelInfo, part: str, *, whole: str) -> LayerTerm:
    where = f" in `{whole}`" if part != whole else ""
    name, star, weight_text = part.partition("*")
    name, colon, channel_text = name.strip().partition(":")
    layer = info.layer(name.strip(), within=whole if part != whole else "")
    channel = None
    if colon:
        if not channel_text.strip().isdecimal():  # isdigit() passes "²", which int() refuses
            raise InvalidParams(
                f"the channel in `{part}`{where} must be a whole number, like `mixed4d:139`."
            )
        channel = int(channel_text)
        if channel >= layer.channels:
            raise InvalidParams(
                f"channel {channel} is out of range{where}: `{layer.name}` has channels "
                f"0..{layer.channels - 1}."
            )
    weight = 1.0
    if star:
        try:
            weight = float(weight_text)
        except ValueError:
            weight = float("nan")
        if not 0.0 < weight <= MAX_WEIGHT:  # nan fails too
            raise InvalidParams(
                f"the weight in `{part}`{where} must be a number over 0 and up to "
                f"{MAX_WEIGHT:g}, like `*0.5`."
            )
    return LayerTerm(layer.name, channel, weight)
