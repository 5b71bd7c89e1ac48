"""Command-line use of the engine: `dreambot dream`, `dreambot models`, `dreambot fetch-weights`.

Called from `dreambot/__main__.py` with the engine settings already loaded; torch is imported only
by the commands that need it.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from dreamcore.catalog import MODELS, PRESETS, class_names, preset_values
from dreamcore.config import EngineConfig
from dreamcore.errors import DreamError
from dreamcore.imaging import decode_guide
from dreamcore.links import FetchLimits, Network, fetch_link, is_link
from dreamcore.request import DreamParams, DreamRequest, make_params
from dreamcore.targets import SYNTAX


def add_dream_arguments(p: argparse.ArgumentParser) -> None:
    d = DreamParams()
    p.add_argument(
        "input",
        help="image or video to dream (PNG, JPEG, WebP, GIF, ...; MP4, WebM, MOV: `video` extra): "
        "a file, or an http(s) link to one (fetched from public addresses only, with the bot's "
        "size cap and timeout)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="where to write the dream (.png, .jpg, .webp)",
    )
    p.add_argument("--model", default=None, help="network (default: engine.default_model)")
    p.add_argument(
        "--layer",
        default=None,
        help="layer, layer:channel, or a weighted mix: mixed4d, mixed4d:139, "
        "mixed4c+mixed4d:139*0.5",
    )
    p.add_argument("--preset", choices=PRESETS, default=None, help="a look, picked for you")
    p.add_argument("--guide", type=Path, default=None, help="image whose features to dream in")
    p.add_argument("--class", dest="target_class", default=None, help="dream a class, e.g. banana")
    p.add_argument("--smooth", type=int, default=None, help="Laplacian levels, 1-8 (0: classic)")
    p.add_argument(
        "--colors",
        choices=("dream", "original"),
        default=None,
        help="original: keep the photo's colours",
    )
    anim = p.add_argument_group(
        "animation",
        "a zoom into the dream (an animated input or a video is dreamed frame by frame anyway); "
        "-o x.webp / x.gif / x.mp4 picks the format",
    )
    anim.add_argument("--animate", choices=("zoom", "spin", "pan"), default=None)
    anim.add_argument("--frames", type=int, default=None, help=f"frames (default {d.frames})")
    anim.add_argument("--zoom", type=float, default=None, help="zoom per frame, e.g. 1.04")
    anim.add_argument("--rotate", type=float, default=None, help="degrees per frame")
    anim.add_argument("--pan", type=int, default=None, help="pixels per frame")
    anim.add_argument("--frame-steps", type=int, default=None, help="steps per later frame")
    anim.add_argument("--fps", type=int, default=None)
    anim.add_argument(
        "--temporal",
        choices=("flow", "blend"),
        default=None,
        help="an animated input's frames carry the last dream along the motion "
        "(flow, the default) or blended in place",
    )
    p.add_argument("--octaves", type=int, default=d.octaves)
    p.add_argument("--octave-scale", type=float, default=d.octave_scale)
    p.add_argument("--steps", type=int, default=d.steps, help="gradient steps per octave")
    p.add_argument(
        "--strength", type=float, default=d.strength, help="step size in 0..255 pixel units"
    )
    p.add_argument("--jitter", type=int, default=d.jitter, help="random roll per step, in pixels")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--max-side", type=int, default=d.max_side, help="long side of the dream (downscales input)"
    )
    p.add_argument("--tile-size", type=int, default=None, help="gradient tile size in pixels")
    p.add_argument(
        "--device", default=None, help="auto, cpu, cuda, cuda:1 (default: engine.device)"
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "fp16", "bf16"),
        default=None,
        help="auto: bf16 on CPUs with native bf16, fp16 on CUDA, else fp32 (default: "
        "engine.precision)",
    )


ANIMATION_FLAGS = ("animate", "frames", "zoom", "rotate", "pan", "frame_steps", "fps", "temporal")


def run_dream(
    args: argparse.Namespace,
    config: EngineConfig,
    *,
    limits: FetchLimits | None = None,
    link_hosts: tuple[str, ...] = (),
    network: Network | None = None,
) -> int:
    """Dream `args.input`; a link is fetched as the bot fetches one (`limits`, `link_hosts`:
    the bot's intake settings; `network`: tests reach only loopback)."""
    model = args.model or config.default_model
    preset = preset_values(model, args.preset) if args.preset and model in MODELS else {}
    layer = args.layer or preset.pop("layer", None)
    chosen = {"smooth": args.smooth, "colors": args.colors, "target_class": args.target_class}
    chosen |= {k: getattr(args, k) for k in ANIMATION_FLAGS}
    suffix = args.output.suffix.lower().lstrip(".")
    if suffix in ("gif", "mp4") or (suffix == "webp" and args.animate):
        chosen["output"] = suffix
    try:
        params = make_params(
            **{**preset, **{k: v for k, v in chosen.items() if v is not None}},
            model=model,
            layer=layer,
            octaves=args.octaves,
            octave_scale=args.octave_scale,
            steps=args.steps,
            strength=args.strength,
            jitter=args.jitter,
            seed=args.seed,
            max_side=args.max_side,
            tile_size=args.tile_size,
            guided=args.guide is not None,
        )
        if is_link(args.input):
            data = fetch_link(args.input, extra_hosts=link_hosts, limits=limits, network=network)
        else:
            data = Path(args.input).read_bytes()
        guide = args.guide.read_bytes() if args.guide else None
        if guide is not None:  # refused now, as the bot refuses it, not after a model loads
            decode_guide(guide, config)
    except (DreamError, OSError) as err:
        return _fail(err)
    updates: dict = {"models": tuple(dict.fromkeys((*config.models, params.model)))}
    if args.device:
        updates["device"] = args.device
    if args.precision:
        updates["precision"] = args.precision
    config = config.model_copy(update=updates)

    from tqdm import tqdm

    from dreamcore.engine.dreamer import Dreamer

    dreamer = Dreamer(config, progress_downloads=True)
    try:
        dreamer.model(params.model)  # load (or download) before the progress bar starts
    except DreamError as err:
        return _fail(err)
    bar = tqdm(
        total=params.octaves * params.steps,
        desc=f"{params.model} {params.target}",
        unit="step",
        file=sys.stderr,
    )
    frame = [0]

    def progress(event) -> None:
        if event.frames and event.frame != frame[0]:  # a bar per frame
            frame[0] = event.frame
            bar.reset()
            bar.set_description(f"frame {event.frame}/{event.frames}")
        bar.total = event.octaves * event.steps
        bar.n = (event.octave - 1) * event.steps + event.step
        bar.set_postfix_str(f"octave {event.octave}/{event.octaves}")
        bar.refresh()

    try:
        result = dreamer.run(DreamRequest(image=data, params=params, guide=guide), progress)
    except DreamError as err:
        bar.close()
        return _fail(err)
    bar.close()
    if result.frames > 1:  # already encoded in the format asked for (WebP if none was)
        if args.output.suffix.lower() != f".{result.format}":
            args.output = args.output.with_suffix(f".{result.format}")
            print(f"note: an animation: written as {args.output}", file=sys.stderr)
        args.output.write_bytes(result.image)
    else:
        _write(result.image, args.output)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    frames = f", {result.frames} frames" if result.frames > 1 else ""
    print(
        f"{args.output}: {result.width}x{result.height}{frames}, {params.model} {result.target}, "
        f"seed {result.seed}, {result.seconds:.1f}s, "
        f"objective {result.objective_start:.3g} -> {result.objective_end:.3g}"
    )
    return 0


def _write(png: bytes, output: Path) -> None:
    """Write the PNG the engine made in the format the output's extension names."""
    from PIL import Image

    from dreamcore.imaging import format_of_extension

    fmt = format_of_extension(output.suffix) or "PNG"
    if fmt == "PNG":
        output.write_bytes(png)
        return
    image: Image.Image = Image.open(io.BytesIO(png))
    if fmt == "JPEG":
        image = image.convert("RGB")
    image.save(output, fmt, quality=95)


def run_models(args: argparse.Namespace, config: EngineConfig) -> int:
    for info in MODELS.values():
        if info.testing and not args.all:
            continue
        enabled = "" if info.name in config.models else "  (not enabled in config)"
        print(f"{info.name}: {info.title}{enabled}")
        print(f"  {info.description}")
        print(
            f"  default layer: {info.default_layer}; presets: "
            + ", ".join(f"{k}={v}" for k, v in info.presets.items())
        )
        for layer in info.layers:
            if args.all or layer.description:
                looks = f"  {layer.description}" if layer.description else ""
                print(f"    {layer.name:<40} {layer.channels:>5} ch{looks}")
        if info.aliases:
            print(
                "  aliases: "
                + ", ".join(f"{a}={b}" for a, b in list(info.aliases.items())[:4])
                + ", ..."
            )
        if info.classes:
            print(f"  --class: {len(class_names(info.name))} ImageNet classes (e.g. banana)")
        else:
            print(f"  --class: no ({info.no_classes})")
    print(f"\n--layer takes {SYNTAX}.")
    if not args.all:
        print("(`dreambot models --all` lists every branch and *_pre_relu tensor too)")
    return 0


def run_fetch_weights(args: argparse.Namespace, config: EngineConfig) -> int:
    from dreamcore.engine.models import fetch_weights

    names = args.models or list(config.models)
    status = 0
    for name in names:
        try:
            path = fetch_weights(name, config.model_copy(update={"offline": False}))
        except DreamError as err:
            status = _fail(err)
            continue
        print(f"{name}: {path or 'random weights (nothing to fetch)'}")
    return status


def _fail(err: BaseException) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 2
