"""Dreamer: the engine's front door. Bytes in, bytes out; models loaded once and kept warm.

This is the handler a pool worker runs (`dreamcore.engine.dreamer:Dreamer`), and what the command
line uses directly. It owns the models for one device.
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext

import torch
from PIL import Image

from dreamcore.animation import (
    WebPFrames,
    fit,
    plan_frames,
    read_frames,
    webp_animation_supported,
)
from dreamcore.catalog import check_offered, model_info
from dreamcore.config import EngineConfig
from dreamcore.engine.animate import input_frames, zoom_frames
from dreamcore.engine.batching import StepBatcher
from dreamcore.engine.colors import keep_original_colors
from dreamcore.engine.compose import objective_for
from dreamcore.engine.deepdream import dream, effective_octaves
from dreamcore.engine.device import Placement, placement
from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.graphs import GraphCache
from dreamcore.engine.imageio import to_image, to_tensor
from dreamcore.engine.models import build_model
from dreamcore.engine.precision import eager_step, fastest_precision, graphed_step
from dreamcore.errors import InvalidParams, UnknownModel
from dreamcore.frames import frames_made
from dreamcore.imaging import (
    DecodedImage,
    decode_for_dream,
    decode_guide,
    encode_image,
    encode_preview,
)
from dreamcore.request import MAX_SEED, DreamParams, DreamProgress, DreamRequest, DreamResult
from dreamcore.video import supported as mp4_supported

log = logging.getLogger(__name__)

ProgressFn = Callable[[DreamProgress], None]
StopFn = Callable[[], bool]


class Dreamer:
    def __init__(self, config: EngineConfig, *, progress_downloads: bool = False) -> None:
        self.config = config
        self.placement = placement(config)
        if self.placement.device.type == "cuda":
            # process-wide (a worker has one engine): set before the precision probe and the
            # graphs' warm-ups, so that they time and record the algorithms the dreams will run
            torch.backends.cudnn.benchmark = config.cudnn_benchmark
        self.progress_downloads = progress_downloads
        self._models: dict[str, FeatureNet] = {}
        self._placements: dict[str, Placement] = {}
        # Dreams run on several threads at once (a worker holding several jobs) step together,
        # on CUDA replaying graphs of the batched step.
        self.graphs = (
            GraphCache(
                max_batch=config.max_batch,
                max_entries=config.graph_cache_entries,
                max_mb=config.graph_cache_mb,
            )
            if graphs_on(config, self.placement.device)
            else None
        )
        self.batcher = (
            StepBatcher(max_batch=config.max_batch, bucket=config.batch_bucket, graphs=self.graphs)
            if batching_on(config, self.placement.device)
            else None
        )

    def warm(self, models: Iterable[str]) -> None:
        """Load these models now (at worker start), so the first dream doesn't pay for it."""
        for name in models:
            self.model(name)

    def add_model(self, name: str, net: FeatureNet) -> None:
        """Use `net` for `name` (e.g. a random-init control in tests, or a custom network)."""
        self._place(name, net)

    def model(self, name: str) -> FeatureNet:
        if name not in self._models:
            t0 = time.perf_counter()
            net = build_model(name, self.config, progress=self.progress_downloads)
            self._place(name, net)
            log.info(
                "loaded model %s on %s (%s) in %.1fs",
                name,
                self.placement.device,
                self.placement_of(name).precision,
                time.perf_counter() - t0,
            )
        return self._models[name]

    def placement_of(self, name: str) -> Placement:
        """Where and in which precision model `name` runs (CUDA auto: measured per model)."""
        return self._placements.get(name, self.placement)

    def _place(self, name: str, net: FeatureNet) -> None:
        net = self.placement.prepare(net)  # weights cast once, here
        self._models[name] = net
        if self.config.precision == "auto" and self.placement.device.type == "cuda":
            batch = self.config.max_batch if self.batcher else 1
            step = graphed_step if self.graphs is not None else eager_step  # as dreams will run
            layers = (_probe_layer(name, net),)
            best = fastest_precision(net, self.placement, layers, batch=batch, step=step)
            self._placements[name] = self.placement.with_precision(best)

    def run(
        self,
        request: DreamRequest,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> DreamResult:
        """Dream a still, or an animation (`params.animate`, or an animated upload)."""
        t0 = time.perf_counter()
        params = request.params
        check_offered(params.model, self.config.models)
        decoded = decode_for_dream(request.image, self.config, params.max_side)
        pixels = to_tensor(decoded.rgb, self.placement.device)  # 1 x 3 x H x W, 0..255
        session = _Session(self, request, pixels, on_progress, should_stop)
        if params.animate or decoded.animated:
            return self._animation(session, decoded, t0)
        out = session.dream(pixels, params)
        after = session.gradient.objective_value(out)
        data, fmt = encode_image(to_image(out), decoded.alpha, max_bytes=request.output_max_bytes)
        width, height = Image.open(io.BytesIO(data)).size
        notes = list(decoded.notes)
        if (width, height) != decoded.rgb.size:
            notes.append(f"downscaled to {width}x{height} to fit the upload limit")
        return session.result(data, fmt, (width, height), 1, t0, after, notes)

    def _animation(self, session: _Session, decoded: DecodedImage, t0: float) -> DreamResult:
        params, request = session.params, session.request
        fmt = params.output or ("webp" if webp_animation_supported() else "gif")
        if fmt == "mp4" and not mp4_supported():
            raise InvalidParams(
                "MP4 needs the optional video support: pip install 'dreambot[video]'."
            )
        w, h = decoded.rgb.size
        notes: list[str] = []
        # as the bot reckoned the price: the intake counts an upload's frames the same way
        count = frames_made(params, upload_frames=decoded.frames, pixels=w * h, engine=self.config)
        session.frames = count
        if params.animate:
            if params.frames and count < params.frames:
                notes.append(f"{count} frames, the most this bot makes at {w}x{h}")
            frames = zoom_frames(session.pixels, params, count, session.dream_frame)
            duration = round(1000 / params.fps)
        else:
            assert decoded.table is not None  # an animated upload: its frames, read unseen
            plan = plan_frames(decoded.table.durations_ms, count)
            if plan.sampled:
                notes.append(f"dreamed {len(plan.indices)} of the {plan.total} frames (the limit)")
            source = (
                to_tensor(f, self.placement.device)
                for f in read_frames(
                    request.image, plan.indices, (w, h), max_pixels=self.config.max_input_pixels
                )
            )
            frames = input_frames(source, params, session.dream_frame)
            duration = plan.duration_ms
        store = WebPFrames()
        last = session.pixels
        for frame in frames:  # each encoded as it comes; no frame's pixels are kept
            store.add(to_image(frame))
            last = frame
        after = session.gradient.objective_value(last)
        # asked for no format: an MP4 when that is what fits (a video's dream often is)
        fallback = "mp4" if params.output is None and mp4_supported() else None
        fitted = fit(store, fmt, duration, request.output_max_bytes, fallback)
        notes += fitted.notes
        size = (fitted.width, fitted.height)
        return session.result(fitted.data, fitted.format, size, fitted.frames, t0, after, notes)


def _probe_layer(name: str, net: FeatureNet) -> str:
    """The layer a model is usually dreamed at (its catalog default), to time its steps."""
    try:
        return model_info(name).default_layer
    except UnknownModel:  # a custom network the catalog does not list: its deepest layer
        return net.layer_names()[-1]


def batching_on(config: EngineConfig, device: torch.device) -> bool:
    """auto: batch on CUDA (launch-bound at batch 1); on the CPU a batch is no faster per image."""
    if config.batching == "auto":
        return device.type == "cuda"
    return config.batching == "on"


def graphs_on(config: EngineConfig, device: torch.device) -> bool:
    """auto: CUDA graphs where the batcher runs on CUDA (graphs replay its padded, bucketed
    steps). `on` where that can't be: eager, said once."""
    if config.cuda_graphs == "off":
        return False
    why_not = None
    if device.type != "cuda":
        why_not = f"CUDA graphs need a CUDA device, this engine runs on {device}"
    elif not batching_on(config, device):
        why_not = "CUDA graphs replay the batched step, and engine.batching is off"
    if why_not is not None and config.cuda_graphs == "on":
        log.info("engine.cuda_graphs is on, but %s: eager steps", why_not)
    return why_not is None


class _Session:
    """One request's dreaming: the network, its objective and gradient, the seeded jitter, and
    progress reports (per frame, for animations)."""

    def __init__(
        self,
        dreamer: Dreamer,
        request: DreamRequest,
        pixels: torch.Tensor,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> None:
        self.dreamer, self.request, self.params, self.pixels = (
            dreamer,
            request,
            request.params,
            pixels,
        )
        self.on_progress, self.should_stop = on_progress, should_stop
        config, placement = dreamer.config, dreamer.placement_of(self.params.model)
        net = dreamer.model(self.params.model)
        tile = self.params.tile_size or config.tile_size

        def gradient_of(objective) -> Gradient:
            return Gradient(
                net,
                objective,
                tile_size=tile,
                autocast=placement.autocast(),
                channels_last=placement.channels_last,
                batcher=dreamer.batcher,
            )

        guide = None
        if request.guide is not None:
            guide_image = decode_guide(request.guide, config)
            guide = to_tensor(guide_image.rgb, placement.device)
        objective = objective_for(
            self.params, net, guide=guide, total=lambda o: gradient_of(o).objective_total(pixels)
        )
        self.gradient = gradient_of(objective)
        p = self.params
        self.seed = p.seed if p.seed is not None else random.randint(0, MAX_SEED)
        self.generator = torch.Generator().manual_seed(self.seed)  # jitter: reproducible on CPU
        self.before = self.gradient.objective_value(pixels)
        self.frames = 0  # an animation's frame count, once known
        self.frame = 0

    def dream(self, pixels: torch.Tensor, params: DreamParams) -> torch.Tensor:
        config, batcher = self.dreamer.config, self.dreamer.batcher
        with batcher.dreaming() if batcher else nullcontext():
            out = dream(
                pixels,
                self.gradient,
                params,
                min_side=config.min_side,
                generator=self.generator,
                on_step=self._step,
                should_stop=self.should_stop,
            )
        if params.colors == "original":
            out = keep_original_colors(out, pixels)
        return out

    def dream_frame(self, pixels: torch.Tensor, params: DreamParams, index: int) -> torch.Tensor:
        self.frame = index + 1
        return self.dream(pixels, params)

    def _step(self, octave: int, octaves: int, step: int, steps: int, img: torch.Tensor) -> None:
        if self.on_progress is None:
            return
        end_of_octave = step == steps
        if self.frames:  # an animation: a preview at the end of the first and every 4th frame
            show = end_of_octave and octave == octaves and (self.frame - 1) % 4 == 0
        else:
            show = end_of_octave
        preview = None
        if self.request.preview and show:
            batcher = self.dreamer.batcher
            with batcher.aside() if batcher else nullcontext():  # the others step meanwhile
                preview = encode_preview(to_image(img), self.dreamer.config.preview_side)
        self.on_progress(
            DreamProgress(
                octave=octave,
                octaves=octaves,
                step=step,
                steps=steps,
                preview=preview,
                frame=self.frame if self.frames else 0,
                frames=self.frames,
            )
        )

    def result(
        self,
        data: bytes,
        fmt: str,
        size: tuple[int, int],
        frames: int,
        t0: float,
        after: float,
        notes: list[str],
    ) -> DreamResult:
        h, w = self.pixels.shape[-2:]
        config = self.dreamer.config
        return DreamResult(
            image=data,
            format=fmt,
            width=size[0],
            height=size[1],
            frames=frames,
            seed=self.seed,
            model=self.params.model,
            target=self.params.target,
            octaves_run=effective_octaves(h, w, self.params, config.min_side),
            seconds=time.perf_counter() - t0,
            objective_start=self.before,
            objective_end=after,
            notes=tuple(notes),
        )
