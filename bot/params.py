"""Turning what a user chose into DreamParams: options, presets, the server's size cap, re-rolls,
and layer autocomplete. Pure functions, no I/O; the one Discord type is the autocomplete's
`app_commands.Choice`."""

from __future__ import annotations

import itertools
import random

from discord import app_commands

from bot.guilds import GuildSettings
from bot.intake import HeldImage
from dreamcore.catalog import LOGITS, check_offered, model_info, preset_values
from dreamcore.config import EngineConfig
from dreamcore.frames import DEFAULT_ZOOM_FRAMES, frames_made
from dreamcore.request import MAX_SEED, DreamParams, make_params

DEFAULT_SIDE = 1024


def build_params(
    engine: EngineConfig,
    guild: GuildSettings,
    *,
    model: str | None = None,
    layer: str | None = None,
    preset: str | None = None,
    size: int | None = None,
    **knobs: object,
) -> DreamParams:
    """Params for a new dream: the config's defaults, the user's choices, the server's cap."""
    model = model or engine.default_model
    check_offered(model, engine.models)
    chosen = {k: v for k, v in knobs.items() if v is not None}
    if preset:  # what the user set explicitly wins over the preset
        values = preset_values(model, preset)
        preset_layer = values.pop("layer")
        layer = layer or str(preset_layer)
        chosen = {**values, **chosen}
    default_side = engine.animation_side if chosen.get("animate") else DEFAULT_SIDE
    max_side = min(size or default_side, guild.side_cap(engine.max_side_cap))
    frames = chosen.get("frames")
    if isinstance(frames, int) and frames:
        chosen["frames"] = min(frames, guild.frame_cap(engine.max_animation_frames))
    return make_params(
        model=model, layer=layer, max_side=max_side, tile_size=engine.tile_size, **chosen
    )


def animated(
    params: DreamParams, image: HeldImage, engine: EngineConfig, guild: GuildSettings
) -> DreamParams:
    """Frames under the server's cap: a motion's (16 unless asked, whatever the upload), or an
    animated upload's (all of them unless asked; it is dreamed frame by frame)."""
    if image.frames <= 1 and not params.animate:
        return params
    cap = guild.frame_cap(engine.max_animation_frames)
    wanted = params.frames or (DEFAULT_ZOOM_FRAMES if params.animate else cap)
    return params.model_copy(update={"frames": min(wanted, cap)})


def frames_of(params: DreamParams, image: HeldImage | None, engine: EngineConfig) -> int:
    """How many frames the worker will make of this image with these params (1: a still):
    the worker's own answer, so the price is known before the dream and matches it. Without
    the image (not fetched yet): the fewest it can make, as if it were a still."""
    frames, (w, h) = (image.frames, image.size) if image else (1, (0, 0))
    return frames_made(params, upload_frames=frames, pixels=w * h, engine=engine)


def within_guild(params: DreamParams, engine: EngineConfig, guild: GuildSettings) -> DreamParams:
    """Settings read back from an old result obey the server's size cap as it is now."""
    check_offered(params.model, engine.models)
    cap = guild.side_cap(engine.max_side_cap)
    if params.max_side <= cap:
        return params
    return params.model_copy(update={"max_side": cap})


def reroll(params: DreamParams, rng: random.Random | None = None) -> DreamParams:
    """Another main layer (maybe one channel of it) and a new seed; everything else kept
    (a class dream keeps its class)."""
    rng = rng or random.Random()
    values = params.model_dump()
    values["seed"] = rng.randrange(MAX_SEED)
    if params.target_class:  # a class dream stays that class
        return make_params(**values)
    info = model_info(params.model)
    main = [layer for layer in info.layers if layer.description and layer.name != params.layer]
    layer = rng.choice(main or list(info.layers))
    single = not params.guided and rng.random() < 0.5  # a guide matches whole layers
    values["layer"] = f"{layer.name}:{rng.randrange(layer.channels)}" if single else layer.name
    return make_params(**values)


MAX_VARIANTS = 4


def variants(params: DreamParams, n: int, rng: random.Random | None = None) -> list[DreamParams]:
    """`n` dreams of one image that differ visibly: each a different channel of the chosen
    layer (a channel asked for comes first; the others drawn without repeats), so on one
    worker they share a layer and batch together. A mix, a class or a guided dream (a guide
    matches whole layers) has no one layer to split: its variants differ by seed. Each
    variant's seed is fixed here, so each embed shows the one it used."""
    rng = rng or random.Random()
    seeds = _distinct(rng, MAX_SEED, n, first=params.seed)
    terms = params.terms
    single = len(terms) == 1 and terms[0].weight == 1.0 and not params.guided
    if params.target_class or not single:
        return [params.model_copy(update={"seed": seed}) for seed in seeds]
    term = terms[0]
    width = next(
        layer.channels for layer in model_info(params.model).layers if layer.name == term.layer
    )
    channels = _distinct(rng, width, min(n, width), first=term.channel)  # a narrow layer:
    return [  # its channels again, with other seeds
        make_params(**{**params.model_dump(), "layer": f"{term.layer}:{channel}", "seed": seed})
        for channel, seed in zip(itertools.cycle(channels), seeds, strict=False)
    ]


def _distinct(rng: random.Random, below: int, n: int, first: int | None) -> list[int]:
    """`n` different numbers under `below`, `first` (when given) first."""
    chosen = [] if first is None else [first]
    while len(chosen) < n:
        pick = rng.randrange(below)
        if pick not in chosen:
            chosen.append(pick)
    return chosen


def layer_choices(model: str, current: str) -> list[app_commands.Choice[str]]:
    """Layers whose name contains what was typed; described (main) layers first. Max 25."""
    info = model_info(model)
    typed = current.strip().lower()
    if ":" in typed:  # `layer:channel` is passed through as typed
        return [app_commands.Choice(name=current[:100], value=current[:100])]
    layers = sorted(
        (layer for layer in info.layers if layer.name != LOGITS),  # classes go through `class`
        key=lambda layer: not layer.description,
    )
    out = []
    for layer in layers:
        if typed in layer.name.lower():
            label = f"{layer.name} — {layer.description}" if layer.description else layer.name
            label += f" ({layer.channels} ch)"
            out.append(app_commands.Choice(name=label[:100], value=layer.name))
        if len(out) == 25:
            break
    return out
