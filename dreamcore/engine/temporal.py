"""What an animated upload's next frame starts from: the frame itself, plus the previous frame's
dream, so that the dream holds still between frames instead of being found anew each time.

`flow` (the default; samim23/DeepDreamAnim's `--flow`): the previous dream's change (dream minus
its input frame) is moved along the motion from that frame to this one (dense optical flow,
dreamcore/engine/flow.py) and added to this frame; where the motion can't be trusted (what the
previous frame didn't show, or a cut) less of it is carried. `blend`: the frame is mixed with the
previous dream where it stands (`params.blend` of the frame), as before flow: on a moving
picture, the dream's detail stays behind and what moves comes out weaker.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dreamcore.engine.flow import blur, estimate_flow, warp
from dreamcore.request import DreamParams

CARRY = 0.7  # of the previous dream's change carried: the rest fades, so it holds its strength
MISMATCH = 16.0  # 0..255: where the moved previous frame differs from this one by this, ~1/3 kept
EVIDENCE_SIGMA = 4.0  # px: the mismatch is judged over a neighbourhood, not one lucky pixel


def next_start(
    frame: Tensor, previous_frame: Tensor, previous_dream: Tensor, params: DreamParams
) -> Tensor:
    """The pixels frame k is dreamed from, given frame k-1 and its dream (1 x 3 x H x W each,
    0..255 -> same)."""
    if params.temporal == "blend":
        return params.blend * frame + (1.0 - params.blend) * previous_dream
    flow = estimate_flow(frame, previous_frame)  # 1 x 2 x H x W: where each pixel was before
    change = warp(previous_dream - previous_frame, flow)  # 1 x 3 x H x W; 0 from outside
    seen = warp(previous_frame, flow, padding="border")  # the previous frame moved onto this one
    mismatch = blur((seen - frame).abs().mean(1, keepdim=True), EVIDENCE_SIGMA)  # 1 x 1 x H x W
    trust = torch.exp(-((mismatch / MISMATCH) ** 2))  # occlusions and cuts carry little
    return (frame + CARRY * trust * change).clamp(0, 255)
