"""Explicit configuration objects for the engine and the pool (no import-time globals).

Defaults here equal `config/default.toml`; a test keeps the two in step.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EngineConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # auto: bf16 on CPUs with native bf16 (AMX / AVX512-BF16), else fp32; on CUDA measured per
    # model when it loads (the fastest step of fp32, bf16, fp16: engine/precision.py)
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    channels_last: Literal["auto", "on", "off"] = "auto"  # auto: on (faster on CPU and CUDA)
    cache_dir: Path = Path("~/.cache/dreambot")
    default_model: str = "inception5h"
    models: tuple[str, ...] = ("inception5h", "googlenet", "vgg16", "vgg16-hed")  # offered to users
    weights_files: dict[str, Path] = {}  # model -> local weights file, instead of downloading
    # Modules that add models when imported (dreamcore.catalog.register_model), e.g. the tests'
    # `tiny`: imported when this config is validated, and by each pool worker (which gets it
    # pickled), so every process that reads the config knows the same models.
    model_plugins: tuple[str, ...] = ()
    offline: bool = False  # never download; missing weights are an error
    max_side_cap: Annotated[int, Field(ge=64)] = 2048  # no request may dream larger than this
    tile_size: Annotated[int, Field(ge=64)] = 512
    min_side: Annotated[int, Field(ge=1)] = 32  # smaller images are refused (too small to dream)
    max_input_pixels: Annotated[int, Field(ge=1)] = 64_000_000  # decompression-bomb guard
    # an animated (or multi-page) upload's frames x canvas: what decoding all of it costs
    max_input_animation_pixels: Annotated[int, Field(ge=1)] = 256_000_000
    max_video_seconds: Annotated[float, Field(gt=0)] = 60.0  # a longer video: its first part
    preview_side: Annotated[int, Field(ge=16)] = 256
    animation_side: Annotated[int, Field(ge=32)] = 512  # an animation's long side by default
    max_animation_frames: Annotated[int, Field(ge=2)] = 64
    max_animation_pixels: Annotated[int, Field(ge=1)] = 16_777_216  # frames x width x height
    # Continuous batching: dreams running at once in a worker step together (dreamcore/engine/
    # batching.py). auto: on for CUDA only. A batch pads each crop up to multiples of
    # batch_bucket pixels, so that photos of different sizes share a batch.
    batching: Literal["auto", "on", "off"] = "auto"
    max_batch: Annotated[int, Field(ge=1)] = 16
    batch_bucket: Annotated[int, Field(ge=8)] = 64
    # CUDA graphs of the batched step (dreamcore/engine/graphs.py). auto: on where batching is on
    # a CUDA device; "on" elsewhere runs eager (and says so once). Each graph holds about one
    # eager step's activations: at most graph_cache_entries graphs, graph_cache_mb MiB in all.
    cuda_graphs: Literal["auto", "on", "off"] = "auto"
    graph_cache_mb: Annotated[int, Field(ge=1)] = 2048
    graph_cache_entries: Annotated[int, Field(ge=1)] = 64
    # CUDA: cuDNN times its convolution algorithms for each new shape and keeps the fastest (a
    # few ms, once per shape and worker; the batcher's buckets keep the shapes few)
    cudnn_benchmark: bool = True

    @field_validator("model_plugins")
    @classmethod
    def _import_model_plugins(cls, modules: tuple[str, ...]) -> tuple[str, ...]:
        import_model_plugins(modules)
        return modules

    def resolved_cache_dir(self) -> Path:
        return self.cache_dir.expanduser()


def import_model_plugins(modules: Iterable[str]) -> None:
    """Import the modules of `engine.model_plugins` (each registers its models once, on import)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ValueError(f"engine.model_plugins: cannot import {name!r} ({err})") from None


class PoolConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["local", "ray"] = "local"  # ray: actors on a Ray cluster (dreambot[ray])
    ray_address: str = ""  # "" = start a local Ray here; "auto" = the one running here; host:port
    workers: int | Literal["auto"] = "auto"  # auto: one per visible GPU (Ray: in the cluster)
    cpu_workers: Annotated[int, Field(ge=1)] = 1
    threads_per_worker: Annotated[int, Field(ge=0)] = 0  # 0: share the machine's cores evenly
    queue_size: Annotated[int, Field(ge=1)] = 32
    job_timeout_s: Annotated[float, Field(gt=0)] = 600.0
    cancel_grace_s: Annotated[float, Field(gt=0)] = 5.0  # then the worker is killed and replaced
    shutdown_timeout_s: Annotated[float, Field(ge=0)] = 30.0
    start_timeout_s: Annotated[float, Field(gt=0)] = 300.0  # worker start incl. loading weights
    warm_models: tuple[str, ...] = ("inception5h",)  # loaded by every worker at start
    retry_crashed: bool = False  # run a job again once if its worker died under it
    max_queue_wait_s: Annotated[float, Field(gt=0)] = 900.0  # then a queued job fails (refunded)
    no_worker_grace_s: Annotated[float, Field(gt=0)] = 120.0  # no worker alive this long: fail fast
    handler: str = "dreamcore.engine.dreamer:Dreamer"  # module:Class of a pool.handler.Handler
    # Dreams one worker holds at once, stepped together (continuous batching). auto: 16 on a GPU,
    # 1 on the CPU (where a batch is no faster per image).
    dreams_per_worker: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
