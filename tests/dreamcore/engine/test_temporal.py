"""What a frame of an animated upload starts from (dreamcore/engine/temporal.py): the previous
dream's change carried along the motion (flow), or the previous dream blended in place."""

from __future__ import annotations

import torch

from dreamcore.engine.temporal import CARRY, next_start
from dreamcore.request import DreamParams
from tests.dreamcore.engine.test_flow import inner, panned

FLOW, BLEND = DreamParams(), DreamParams(temporal="blend")


def pattern(shape) -> torch.Tensor:
    """A dream's change: stripes 4 px wide, +-20 (what a layer paints, roughly)."""
    x = torch.arange(shape[-1]).view(1, 1, 1, -1).expand(shape)
    return torch.where((x // 4) % 2 == 0, 20.0, -20.0)


def test_the_dream_moves_with_the_picture():
    """Frame 1 is frame 0 panned 3 px: it starts with frame 0's change panned 3 px too."""
    frame0, frame1 = panned(3, 2)
    change = pattern(frame0.shape)
    start = next_start(frame1, frame0, (frame0 + change).clamp(0, 255), FLOW)
    carried = inner(start - frame1)  # what it starts with beyond itself
    along = inner(torch.roll(change, -3, dims=-1)) * CARRY  # the change, moved as the picture
    assert (carried - along).abs().mean() < 0.15 * along.abs().mean()
    in_place = inner(change) * CARRY  # the control: the change where it was
    assert (carried - in_place).abs().mean() > 0.8 * in_place.abs().mean()


def test_after_a_cut_little_of_the_last_dream_is_carried():
    frame0, _ = panned(3, 2)
    other = torch.flip(frame0, dims=(-1, -2))  # another picture altogether
    change = pattern(frame0.shape)
    start = next_start(other, frame0, (frame0 + change).clamp(0, 255), FLOW)
    assert (start - other).abs().mean() < 0.25 * CARRY * change.abs().mean()


def test_blend_mixes_the_last_dream_in_place():
    frame0, frame1 = panned(3, 2)
    dream0 = (frame0 + pattern(frame0.shape)).clamp(0, 255)
    start = next_start(frame1, frame0, dream0, BLEND)
    assert torch.allclose(start, BLEND.blend * frame1 + (1 - BLEND.blend) * dream0)
