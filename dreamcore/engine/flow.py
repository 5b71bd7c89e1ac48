"""Dense optical flow in pure torch: where each pixel of one frame was in another, so that what
was painted on the earlier frame can be carried along the motion (dreamcore/engine/temporal.py).

Coarse-to-fine Lucas-Kanade: on a pyramid of the two frames' luma, from the coarsest level up,
the flow found so far warps the earlier frame onto the later one, and a Gaussian-weighted
least-squares step on the residual (per pixel, over a window) corrects it; each level starts
from the one below, doubled. Large motions are small at the coarse levels; fine ones are found
at the full size. Frames are 1 x 3 x H x W in 0..255 (what the engine dreams); no OpenCV.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MIN_LEVEL_SIDE = 16  # the coarsest level's short side, at least
MAX_LEVELS = 5  # 2^4 = 16x: motions of tens of pixels a frame
ITERATIONS = 4  # warp-and-correct steps per level
WINDOW_SIGMA = 2.0  # the least-squares window (Gaussian, in pixels of each level)
PRESMOOTH_SIGMA = 1.0  # the frames' luma is blurred this much first (stable gradients)
RIDGE = 1e-4  # regularises flat windows (luma 0..1): where nothing can be seen, nothing moves
MAX_STEP = 2.0  # pixels one correction may move a pixel, at any level (no runaway in noise)
_LUMA = (0.299, 0.587, 0.114)


def estimate_flow(target: Tensor, source: Tensor) -> Tensor:
    """For each pixel x of `target`, the displacement d (in pixels) such that
    source(x + d) ~ target(x): 1 x 3 x H x W twice -> 1 x 2 x H x W (dx, dy).

    So `warp(source, estimate_flow(target, source))` is `source` moved onto `target`."""
    t = blur(_luma(target), PRESMOOTH_SIGMA)  # 1 x 1 x H x W, 0..1
    s = blur(_luma(source), PRESMOOTH_SIGMA)
    pyramid = [(t, s)]
    while len(pyramid) < MAX_LEVELS and min(pyramid[-1][0].shape[-2:]) >= 2 * MIN_LEVEL_SIDE:
        coarse_t, coarse_s = (F.avg_pool2d(x, 2, ceil_mode=True) for x in pyramid[-1])
        pyramid.append((coarse_t, coarse_s))
    flow = torch.zeros(1, 2, *pyramid[-1][0].shape[-2:], device=t.device)  # 1 x 2 x h x w
    for level_t, level_s in reversed(pyramid):
        flow = _resized(flow, level_t.shape[-2:])
        for _ in range(ITERATIONS):
            flow = flow + _correction(level_t, level_s, flow)
    return flow


def warp(image: Tensor, flow: Tensor, padding: str = "zeros") -> Tensor:
    """`image` sampled at x + flow(x) for every pixel x (bilinear): N x C x H x W and
    1 x 2 x H x W -> N x C x H x W. Where x + flow(x) falls outside, `padding` ("zeros":
    nothing comes from there; "border": the nearest edge pixel)."""
    _, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=flow.device, dtype=flow.dtype),
        torch.arange(w, device=flow.device, dtype=flow.dtype),
        indexing="ij",
    )  # H x W each
    x = (xs + flow[0, 0]) * (2 / max(1, w - 1)) - 1  # pixels -> -1..1 (corner pixels' centres)
    y = (ys + flow[0, 1]) * (2 / max(1, h - 1)) - 1
    grid = torch.stack((x, y), dim=-1).unsqueeze(0).expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(
        image, grid.to(image.dtype), mode="bilinear", padding_mode=padding, align_corners=True
    )


def _correction(t: Tensor, s: Tensor, flow: Tensor) -> Tensor:
    """One Lucas-Kanade step: the flow change that best explains what is left of the
    difference, per pixel over a Gaussian window (1 x 1 x h x w twice, 1 x 2 x h x w -> same)."""
    moved = warp(s, flow, padding="border")  # 1 x 1 x h x w: source where the flow says
    gx, gy = _gradients(moved)
    gx, gy = (gx + _gradients(t)[0]) / 2, (gy + _gradients(t)[1]) / 2  # both frames' edges
    residual = moved - t
    sums = blur(
        torch.cat((gx * gx, gx * gy, gy * gy, gx * residual, gy * residual), 1), WINDOW_SIGMA
    )  # 1 x 5 x h x w
    a11, a12, a22, b1, b2 = (sums[:, i : i + 1] + (RIDGE if i in (0, 2) else 0) for i in range(5))
    det = a11 * a22 - a12 * a12  # > 0: a11, a22 >= RIDGE and a12^2 <= (a11 - RIDGE)(a22 - RIDGE)
    du = -(a22 * b1 - a12 * b2) / det
    dv = -(a11 * b2 - a12 * b1) / det
    return torch.cat((du, dv), 1).clamp(-MAX_STEP, MAX_STEP)  # 1 x 2 x h x w


def _resized(flow: Tensor, size: torch.Size) -> Tensor:
    """The flow of a coarser level at `size`, in that level's pixels."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(size):
        return flow
    up = F.interpolate(flow, size=tuple(size), mode="bilinear", align_corners=False)
    scale = torch.tensor([size[1] / w, size[0] / h], device=flow.device).view(1, 2, 1, 1)
    return up * scale


def _luma(pixels: Tensor) -> Tensor:
    weights = torch.tensor(_LUMA, device=pixels.device, dtype=torch.float32).view(1, 3, 1, 1)
    return (pixels.float() * weights).sum(1, keepdim=True) / 255  # 1 x 1 x H x W


def _gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Central differences (one-sided at the edges): N x 1 x H x W -> (d/dx, d/dy), same."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    gy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    return gx, gy


def blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of each channel, edges reflected: N x C x H x W -> same."""
    radius = max(1, round(3 * sigma))
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    radius_x = min(radius, x.shape[-1] - 1)
    radius_y = min(radius, x.shape[-2] - 1)
    x = F.pad(x, (radius_x, radius_x, 0, 0), mode="reflect") if radius_x else x
    x = F.conv2d(
        x,
        kernel[radius - radius_x : radius + radius_x + 1].view(1, 1, 1, -1).expand(c, 1, 1, -1),
        groups=c,
    )
    x = F.pad(x, (0, 0, radius_y, radius_y), mode="reflect") if radius_y else x
    return F.conv2d(
        x,
        kernel[radius - radius_y : radius + radius_y + 1].view(1, 1, -1, 1).expand(c, 1, -1, 1),
        groups=c,
    )
