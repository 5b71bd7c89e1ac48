"""Original colours: the dream's luminance with the photo's chroma. A palette kept: a frame in
another picture's colours, its own structure. The measures of saturation and hue drift."""

import io

import torch
from PIL import Image

from dreamcore.engine.colors import (
    hue_drift,
    keep_original_colors,
    keep_palette,
    palette_of,
    saturation,
    to_rgb,
    to_ycbcr,
)
from dreamcore.engine.imageio import to_tensor
from tests.helpers import photo


def test_ycbcr_round_trip():
    rgb = torch.rand(1, 3, 8, 8) * 255
    assert torch.allclose(to_rgb(to_ycbcr(rgb)), rgb, atol=1e-3)


def test_keeps_the_originals_chroma_and_the_dreams_luminance():
    torch.manual_seed(0)
    original = torch.rand(1, 3, 16, 16) * 200 + 20
    dreamed = torch.rand(1, 3, 16, 16) * 255
    out = keep_original_colors(dreamed, original)

    def drift(a, b, channels):
        return float((to_ycbcr(a)[:, channels] - to_ycbcr(b)[:, channels]).abs().mean())

    # only clipping to 0..255 moves them (measured ~1.3 of 255); the dream's own chroma is far off
    assert drift(out, original, slice(1, 3)) < 3 < drift(dreamed, original, slice(1, 3))
    assert drift(out, dreamed, slice(0, 1)) < 3


def small_photo(size=(96, 64)) -> torch.Tensor:
    with Image.open(io.BytesIO(photo("chelsea.jpg"))) as im:
        return to_tensor(im.convert("RGB").resize(size))


def violet(rgb: torch.Tensor) -> torch.Tensor:
    """What repeated dreaming does to a zoom's colours: brighter, more saturated, hue moved."""
    y, cb, cr = to_ycbcr(rgb).unbind(dim=1)
    shifted = torch.stack([y * 1.05 + 5, cb * 1.8 + 10, cr * 1.8 + 10], dim=1)
    return to_rgb(shifted).clamp(0, 255)


def test_keep_palette_pulls_a_colour_shifted_frame_back_to_the_reference():
    reference = small_photo()
    flipped = reference.flip(-1)  # other structure, same colours
    drifted = violet(flipped)
    # the drift is real: far outside the 10% bounds the zoom keeps
    assert saturation(drifted) > 1.2 * saturation(reference)
    assert hue_drift(drifted, reference) > 0.1
    out = keep_palette(drifted, palette_of(reference))
    assert abs(saturation(out) / saturation(reference) - 1) < 0.02
    assert hue_drift(out, reference) < 0.02
    ours, theirs = to_ycbcr(out), to_ycbcr(reference)
    assert torch.allclose(ours.mean(dim=(2, 3)), theirs.mean(dim=(2, 3)), atol=1.0)
    assert torch.allclose(ours.std(dim=(2, 3)), theirs.std(dim=(2, 3)), atol=1.0)
    # the structure is the frame's own: the flipped picture comes back, not the reference
    # (measured: 0.03 of 255 from it, 34 from the reference)
    assert (out - flipped).abs().mean() < 2 < (out - reference).abs().mean()


def test_keep_palette_keeps_the_detail_of_a_frame_of_another_size():
    reference = small_photo((96, 64))
    torch.manual_seed(0)
    detailed = violet(small_photo((60, 40))) + torch.randn(1, 3, 40, 60) * 12
    out = keep_palette(detailed.clamp(0, 255), palette_of(reference))
    assert out.shape == detailed.shape
    assert abs(saturation(out) / saturation(reference) - 1) < 0.05
    # the luminance is the frame's, rank for rank: its detail is all there
    y_in, y_out = to_ycbcr(detailed)[0, 0].flatten(), to_ycbcr(out)[0, 0].flatten()
    assert spearman(y_in, y_out) > 0.999


def test_keep_palette_restores_the_hues_not_only_each_channel():
    # Y, Cb and Cr each hold exactly the photo's values (matching each channel alone would change
    # nothing), but Cr comes from the mirrored photo: measured 32% of the colour at other hues.
    reference = small_photo()
    y, cb, cr = to_ycbcr(reference).unbind(dim=1)
    mixed = to_rgb(torch.stack([y, cb, cr.flip(-1)], dim=1)).clamp(0, 255)
    assert hue_drift(mixed, reference) > 0.25
    assert hue_drift(keep_palette(mixed, palette_of(reference)), reference) < 0.05  # 2.7%


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ranks = torch.stack([a.argsort().argsort(), b.argsort().argsort()]).double()
    return float(torch.corrcoef(ranks)[0, 1])


def test_hue_drift_and_saturation_measure_what_the_eye_sees():
    grey = torch.full((1, 3, 4, 4), 128.0)
    red, green = grey.clone(), grey.clone()
    red[:, 0], green[:, 1] = 255.0, 255.0
    assert saturation(grey) == 0 and saturation(red) > 0.4
    assert hue_drift(red, red) == 0 and hue_drift(green, red) == 1.0
    half = torch.cat([red, green], dim=-1)
    assert abs(hue_drift(half, red) - 0.5) < 1e-9
