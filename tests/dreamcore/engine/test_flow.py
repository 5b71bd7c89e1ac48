"""Dense optical flow in torch (dreamcore/engine/flow.py): it finds a known shift of a textured
photo, and warping with it maps one frame of a panning clip onto the next."""

from __future__ import annotations

import io
import itertools

import pytest
import torch
from PIL import Image

from dreamcore.engine.flow import estimate_flow, warp
from dreamcore.engine.imageio import to_tensor
from tests.helpers import photo

MARGIN = 16  # pixels near the edges see content that left or entered the frame


def textured(size=(192, 128)) -> torch.Tensor:
    """The cat photo at `size` (1 x 3 x H x W, 0..255)."""
    return to_tensor(Image.open(io.BytesIO(photo("chelsea.jpg"))).convert("RGB").resize(size))


def panned(step: int, frames: int, size=(160, 106)) -> list[torch.Tensor]:
    """A window moving `step` px a frame to the right across the photo: content moves left."""
    w, h = size
    big = Image.open(io.BytesIO(photo("chelsea.jpg"))).convert("RGB")
    big = big.resize((round(big.width * h / big.height), h))
    return [to_tensor(big.crop((k * step, 0, k * step + w, h))) for k in range(frames)]


def inner(x: torch.Tensor) -> torch.Tensor:
    return x[..., MARGIN:-MARGIN, MARGIN:-MARGIN]


@pytest.mark.parametrize("shift", [(3.0, -2.0), (2.5, 1.5), (-7.0, 4.0), (12.0, 0.0)])
def test_the_flow_of_a_shifted_photo_is_the_shift_within_a_pixel(shift):
    source = textured()
    dx, dy = shift
    moved = torch.tensor([dx, dy]).view(1, 2, 1, 1).expand(1, 2, *source.shape[-2:])
    target = warp(source, moved, padding="border")  # target(x) = source(x + shift)
    flow = inner(estimate_flow(target, source))  # 1 x 2 x h x w
    error = (flow - torch.tensor([dx, dy]).view(1, 2, 1, 1)).abs()
    assert error.mean() < 0.2, error.mean()  # measured 0.07-0.09
    assert torch.quantile(error.flatten(), 0.99) < 1.0  # within a pixel, all but flat spots


def test_warping_with_the_flow_maps_frame_k_onto_frame_k_plus_1():
    frames = panned(3, 3)
    for before, after in itertools.pairwise(frames):
        flow = estimate_flow(after, before)
        assert inner(flow[:, 0]).mean() == pytest.approx(3.0, abs=0.2)  # was 3 px to the right
        assert inner(flow[:, 1]).abs().mean() < 0.2
        still = inner(after - before).abs().mean()
        mapped = inner(after - warp(before, flow)).abs().mean()
        assert mapped < 0.1 * still, (mapped, still)  # measured 0.5 vs 17


def test_nothing_moves_where_nothing_can_be_seen():
    flat = torch.full((1, 3, 64, 64), 128.0)
    assert estimate_flow(flat, flat).abs().max() == 0
    assert torch.equal(warp(flat, torch.zeros(1, 2, 64, 64)), flat)
