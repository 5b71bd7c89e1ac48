"""Precision auto on CUDA is measured per model: the candidate whose step is fastest is kept."""

from __future__ import annotations

import itertools

import torch

from dreamcore.config import EngineConfig
from dreamcore.engine.device import placement
from dreamcore.engine.dreamer import Dreamer
from dreamcore.engine.precision import fastest_precision


def _net():
    return Dreamer(EngineConfig(models=("tiny",), device="cpu", precision="fp32")).model("tiny")


def test_the_candidate_with_the_shortest_steps_is_chosen():
    # A clock whose readings make bf16's three steps take 1 s and fp32's and fp16's 3 s each.
    readings = itertools.chain([0.0, 3.0], [10.0, 11.0], [20.0, 23.0])
    place = placement(EngineConfig(device="cpu", precision="fp32"))
    best = fastest_precision(
        _net(), place, ["relu3"], batch=2, shape=(32, 32), clock=lambda: next(readings)
    )
    assert best == "bf16"


def test_a_real_measurement_names_one_of_the_candidates():
    place = placement(EngineConfig(device="cpu", precision="fp32"))
    best = fastest_precision(_net(), place, ["relu3"], batch=1, shape=(32, 32), repeats=1)
    assert best in ("fp32", "bf16", "fp16")


def test_another_precision_on_cuda_is_an_autocast_and_on_the_cpu_a_weight_dtype():
    cpu = placement(EngineConfig(device="cpu", precision="fp32"))
    assert cpu.with_precision("bf16").weights_dtype == torch.bfloat16
    cuda_like = cpu.__class__(torch.device("cuda"), torch.float32, None, True)
    bf16 = cuda_like.with_precision("bf16")
    assert (bf16.weights_dtype, bf16.autocast_dtype, bf16.precision) == (
        torch.float32,
        torch.bfloat16,
        "bf16",
    )
    assert cuda_like.with_precision("fp32").autocast_dtype is None


def test_precision_auto_on_the_cpu_is_not_measured():
    dreamer = Dreamer(EngineConfig(models=("tiny",), device="cpu"))
    dreamer.model("tiny")
    assert dreamer.placement_of("tiny") == dreamer.placement
