"""Precision choice (asked of torch's cpuinfo) and where the weights' dtype is set."""

import pytest
import torch

from dreamcore.config import EngineConfig
from dreamcore.engine import device
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.models import build_model
from dreamcore.engine.objectives import LayerObjective


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"amx_bf16": True, "avx512_bf16": True}, torch.bfloat16),
        ({"amx_bf16": False, "avx512_bf16": True}, torch.bfloat16),
        ({"bf16": True}, torch.bfloat16),  # arm64
        ({"avx512_f": True, "avx512_bf16": False, "amx_bf16": False}, torch.float32),
        ({}, torch.float32),
    ],
)
def test_auto_precision_on_cpu_is_bf16_only_with_native_bf16(monkeypatch, flags, expected):
    monkeypatch.setattr(device, "cpu_capabilities", lambda: flags)
    place = device.placement(EngineConfig(device="cpu"))
    assert place.weights_dtype == expected and place.autocast_dtype is None


def test_the_capability_query_answers_on_this_machine():
    caps = device.cpu_capabilities()
    assert set(device.native_bf16_flags()) <= set(device.NATIVE_BF16_FLAGS)
    assert all(isinstance(caps.get(flag, False), bool) for flag in device.NATIVE_BF16_FLAGS)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_forced_precision_wins_over_auto(monkeypatch, precision):
    monkeypatch.setattr(device, "cpu_capabilities", lambda: {"amx_bf16": precision == "fp32"})
    place = device.placement(EngineConfig(device="cpu", precision=precision))
    assert place.precision == precision
    assert place.weights_dtype == device.DTYPES[precision] and place.autocast_dtype is None


def test_prepare_casts_the_weights_once_and_gradients_come_back_in_fp32():
    place = device.placement(EngineConfig(device="cpu", precision="bf16"))
    net = place.prepare(build_model("tiny"))
    assert {p.dtype for p in net.parameters()} == {torch.bfloat16}
    assert net.body[0].weight.is_contiguous(memory_format=torch.channels_last)
    image = torch.rand(1, 3, 40, 40) * 255
    grad = Gradient(net, LayerObjective("relu2"), channels_last=True)(image)
    assert grad.dtype == torch.float32 and grad.shape == image.shape and grad.abs().sum() > 0


def test_bf16_gradient_points_where_the_fp32_one_does():
    image = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0)) * 255
    fp32 = Gradient(build_model("tiny"), LayerObjective("relu3"))(image)
    bf16_net = build_model("tiny").to(torch.bfloat16)
    bf16 = Gradient(bf16_net, LayerObjective("relu3"))(image)
    cos = torch.nn.functional.cosine_similarity(fp32.flatten(), bf16.flatten(), dim=0)
    assert cos > 0.99  # ~0.998 measured; bf16 keeps 8 bits of mantissa
