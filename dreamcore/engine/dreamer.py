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

import torch
from PIL import Image

from dreamcore.catalog import check_offered
from dreamcore.config import EngineConfig
from dreamcore.engine.colors import keep_original_colors
from dreamcore.engine.compose import objective_for
from dreamcore.engine.deepdream import dream, effective_octaves
from dreamcore.engine.device import placement
from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.imageio import to_image, to_tensor
from dreamcore.engine.models import build_model
from dreamcore.imaging import decode_for_dream, encode_image, encode_preview
from dreamcore.request import MAX_SEED, DreamProgress, DreamRequest, DreamResult

log = logging.getLogger(__name__)

ProgressFn = Callable[[DreamProgress], None]
StopFn = Callable[[], bool]


class Dreamer:
    def __init__(self, config: EngineConfig, *, progress_downloads: bool = False) -> None:
        self.config = config
        self.placement = placement(config)
        self.progress_downloads = progress_downloads
        self._models: dict[str, FeatureNet] = {}

    def warm(self, models: Iterable[str]) -> None:
        """Load these models now (at worker start), so the first dream doesn't pay for it."""
        for name in models:
            self.model(name)

    def add_model(self, name: str, net: FeatureNet) -> None:
        """Use `net` for `name` (e.g. a random-init control in tests, or a custom network)."""
        self._models[name] = net.to(self.placement.device)

    def model(self, name: str) -> FeatureNet:
        if name not in self._models:
            t0 = time.perf_counter()
            net = build_model(name, self.config, progress=self.progress_downloads)
            net = net.to(self.placement.device)
            if self.placement.channels_last:
                net = net.to(memory_format=torch.channels_last)
            self._models[name] = net
            log.info(
                "loaded model %s on %s in %.1fs",
                name,
                self.placement.device,
                time.perf_counter() - t0,
            )
        return self._models[name]

    def run(
        self,
        request: DreamRequest,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> DreamResult:
        t0 = time.perf_counter()
        params = request.params
        check_offered(params.model, self.config.models)
        decoded = decode_for_dream(request.image, self.config, params.max_side)
        net = self.model(params.model)
        tile = params.tile_size or self.config.tile_size
        pixels = to_tensor(decoded.rgb, self.placement.device)  # 1 x 3 x H x W, 0..255

        def gradient_of(objective) -> Gradient:
            return Gradient(
                net,
                objective,
                tile_size=tile,
                autocast=self.placement.autocast(),
                channels_last=self.placement.channels_last,
            )

        guide = None
        if request.guide is not None:
            guide_image = decode_for_dream(request.guide, self.config, self.config.max_side_cap)
            guide = to_tensor(guide_image.rgb, self.placement.device)
        objective = objective_for(
            params, net, guide=guide, total=lambda o: gradient_of(o).objective_total(pixels)
        )
        gradient = gradient_of(objective)
        seed = params.seed if params.seed is not None else random.randint(0, MAX_SEED)
        generator = torch.Generator().manual_seed(
            seed
        )  # jitter offsets: CPU generator, reproducible
        before = gradient.objective_value(pixels)

        def step_done(octave: int, octaves: int, step: int, steps: int, img: torch.Tensor) -> None:
            if on_progress is None:
                return
            preview = None
            if request.preview and step == steps:
                preview = encode_preview(to_image(img), self.config.preview_side)
            on_progress(
                DreamProgress(
                    octave=octave, octaves=octaves, step=step, steps=steps, preview=preview
                )
            )

        out = dream(
            pixels, gradient, params, min_side=self.config.min_side, generator=generator,
            on_step=step_done, should_stop=should_stop,
        )  # fmt: skip
        after = gradient.objective_value(out)
        if params.colors == "original":
            out = keep_original_colors(out, pixels)
        data, fmt = encode_image(to_image(out), decoded.alpha, max_bytes=request.output_max_bytes)
        width, height = Image.open(io.BytesIO(data)).size
        notes = list(decoded.notes)
        if (width, height) != decoded.rgb.size:
            notes.append(f"downscaled to {width}x{height} to fit the upload limit")
        return DreamResult(
            image=data,
            format=fmt,
            width=width,
            height=height,
            seed=seed,
            model=params.model,
            target=params.target,
            octaves_run=effective_octaves(*decoded.rgb.size[::-1], params, self.config.min_side),
            seconds=time.perf_counter() - t0,
            objective_start=before,
            objective_end=after,
            notes=tuple(notes),
        )
