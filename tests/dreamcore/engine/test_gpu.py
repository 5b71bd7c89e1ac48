"""CUDA path: measured precision, channels-last, batching. Runs only where a GPU is present
(marked `gpu`)."""

import io

import pytest
import torch
from PIL import Image

from dreamcore.config import EngineConfig
from dreamcore.engine.dreamer import Dreamer
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.models import build_model
from dreamcore.engine.objectives import LayerObjective
from dreamcore.request import DreamRequest, make_params
from tests.helpers import noise_png, photo

pytestmark = pytest.mark.gpu


def test_cuda_auto_measures_each_models_precision_and_batches():
    dreamer = Dreamer(EngineConfig(models=("tiny",), device="cuda"))
    assert dreamer.placement.device.type == "cuda" and dreamer.placement.channels_last
    dreamer.model("tiny")
    assert dreamer.placement_of("tiny").precision in ("fp32", "bf16", "fp16")
    assert dreamer.batcher is not None  # auto: dreams held at once step together on a GPU


def test_a_cuda_engine_lets_cudnn_time_its_convolutions_unless_told_not_to():
    before = torch.backends.cudnn.benchmark
    try:
        Dreamer(EngineConfig(models=("tiny",), device="cuda", cudnn_benchmark=False))
        assert torch.backends.cudnn.benchmark is False
        Dreamer(EngineConfig(models=("tiny",), device="cuda"))
        assert torch.backends.cudnn.benchmark is True
    finally:
        torch.backends.cudnn.benchmark = before


def test_the_measured_precision_dreams_what_fp32_dreams_on_cuda():
    """The fidelity bounds of test_fidelity.py (trained vgg16-hed), for CUDA's fast path."""
    import numpy as np

    def pixels(precision: str, seed: int) -> np.ndarray:
        dreamer = Dreamer(EngineConfig(models=("vgg16-hed",), device="cuda", precision=precision))
        hed = dict(model="vgg16-hed", layer="relu4_3", octaves=3, steps=8, max_side=320)
        params = make_params(**hed, seed=seed)
        result = dreamer.run(DreamRequest(image=photo("chelsea.jpg"), params=params))
        return np.asarray(Image.open(io.BytesIO(result.image)).convert("RGB"), dtype=np.float64)

    fp32, fast, other_seed = pixels("fp32", 7), pixels("auto", 7), pixels("fp32", 8)
    assert np.abs(fast - fp32).mean() < 0.75 * np.abs(other_seed - fp32).mean()


def test_fp16_gradient_on_cuda_agrees_with_fp32_on_cpu():
    net = build_model("vgg16-hed")
    image = torch.rand(1, 3, 128, 128) * 255
    cpu = Gradient(net, LayerObjective("relu3_3"))(image)
    gpu_net = build_model("vgg16-hed").cuda().to(memory_format=torch.channels_last)
    fp16 = Gradient(
        gpu_net,
        LayerObjective("relu3_3"),
        channels_last=True,
        autocast=lambda: torch.autocast("cuda", dtype=torch.float16),
    )(image.cuda())
    cos = torch.nn.functional.cosine_similarity(cpu.flatten(), fp16.float().cpu().flatten(), dim=0)
    assert cos > 0.98


def test_dream_on_cuda_returns_the_input_size():
    dreamer = Dreamer(EngineConfig(models=("tiny",), device="cuda"))
    r = dreamer.run(
        DreamRequest(
            image=noise_png((90, 70)), params=make_params(model="tiny", octaves=2, steps=2)
        )
    )
    assert Image.open(io.BytesIO(r.image)).size == (90, 70)
