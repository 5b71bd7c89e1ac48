"""CUDA path: fp16 autocast + channels-last. Runs only where a GPU is present (marked `gpu`)."""

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
from tests.helpers import noise_png

pytestmark = pytest.mark.gpu


def test_cuda_placement_uses_fp16_autocast_and_channels_last():
    from dreamcore.engine.device import placement

    place = placement(EngineConfig(device="cuda"))
    assert (
        place.device.type == "cuda"
        and place.autocast_dtype == torch.float16
        and place.channels_last
    )


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
