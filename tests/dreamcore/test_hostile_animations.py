"""Animated and multi-page files that cost gigabytes or minutes when their frames are decoded
without bound: refused from their frame tables by the check the intake and the worker share
(`decode_for_dream`), and by the worker's own per-frame check when it reads frames.

These assert refusals and what was decoded, never how long anything took."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dreamcore.animation import plan_frames, read_frames
from dreamcore.config import EngineConfig
from dreamcore.errors import InvalidImage
from dreamcore.imaging import decode_for_dream
from tests import hostile_animations as H

ENGINE = EngineConfig()  # the shipped limits: 64 Mpx a frame, 256 Mpx of frames in all
HOSTILE = {
    "gif-far-off-frame": (H.gif_far_off_frame(), "drawn on 12000x12000 pixels"),
    "gif-huge-screen": (H.gif_huge_screen(100), "100 frames of 8000x8000 pixels"),
    "webp-big-canvas": (H.webp_big_canvas(20), "20 frames of 8000x8000 pixels"),
    "tiff-huge-page": (H.tiff_huge_second_page(), "drawn on 13000x13000 pixels"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_refused_before_any_later_frame_is_decoded(name, monkeypatch):
    data, words = HOSTILE[name]
    assert len(data) < 8000  # kilobytes that would decode to gigabytes
    decoded_sizes = []
    load = Image.Image.load

    def spy(self):
        decoded_sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    with pytest.raises(InvalidImage) as refused:
        decode_for_dream(data, ENGINE, max_side=512)
    text = str(refused.value)
    assert "too large" in text and words in text and "the limit is" in text, text
    assert "\n" not in text
    assert all(w * h <= ENGINE.max_input_pixels for w, h in decoded_sizes), decoded_sizes


def test_the_budget_counts_frames_times_canvas():
    small = EngineConfig(max_input_animation_pixels=3 * 8000 * 8000)
    decoded = decode_for_dream(H.gif_huge_screen(3), small, max_side=64)  # 3 canvases: allowed
    assert decoded.frames == 3 and decoded.rgb.size == (64, 64)
    with pytest.raises(InvalidImage, match=r"4 frames of 8000x8000 pixels, the limit is 192,000"):
        decode_for_dream(H.gif_huge_screen(4), small, max_side=64)


@pytest.mark.parametrize(
    "data",
    [H.gif_far_off_frame(at=8499), H.tiff_huge_second_page()],
    ids=["gif-far-off-frame", "tiff-huge-page"],
)
def test_the_worker_checks_every_frame_it_reads_itself(data):
    """read_frames, given a file no check has seen, refuses the frame whose canvas is over the
    limit before decoding it, with the intake's words (8500x8500 is 72 Mpx: over our limit,
    under Pillow's own bomb threshold, so only this check stands between it and a decode)."""
    frames = read_frames(data, (0, 1), (64, 64), max_pixels=ENGINE.max_input_pixels)
    first = next(frames)
    assert first.size == (64, 64)  # frame 0 is fine
    with pytest.raises(
        InvalidImage, match=r"too large: a frame of it is drawn on (8500x8500|13000x13000) pix"
    ):
        next(frames)


def test_pillows_bomb_warning_in_a_later_frame_is_the_same_refusal(monkeypatch):
    """Pillow's own bomb check (its warning, raised as an error) in a frame the worker reads
    gets the intake's refusal, not "Something went wrong"."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # warns above, errors above twice
    frames = read_frames(H.gif_far_off_frame(at=399), (0, 1), (64, 64), max_pixels=10**9)
    next(frames)
    with pytest.raises(InvalidImage, match=r"That image is too large: more than 100,000 pixels"):
        next(frames)


def test_legitimate_animations_still_decode_frame_by_frame():
    """A frame that grows the canvas a little, pages of different sizes: dreamed as before."""
    grows = H.gif((64, 64), [H.gif_frame(0, 0, 64, 64), H.gif_frame(60, 60, 16, 16, 20)])
    pages = H.tiff_pages([(64, 64), (100, 80)])
    for data, canvases in ((grows, ((64, 64), (76, 76))), (pages, ((64, 64), (100, 80)))):
        decoded = decode_for_dream(data, ENGINE, max_side=512)
        assert decoded.table is not None and decoded.table.canvases == canvases
        plan = plan_frames(decoded.table.durations_ms, decoded.frames)
        frames = list(read_frames(data, plan.indices, decoded.rgb.size, max_pixels=10**6))
        assert [f.size for f in frames] == [(64, 64)] * 2


def test_a_still_has_no_frame_table():
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buf, "PNG")
    decoded = decode_for_dream(buf.getvalue(), ENGINE, max_side=512)
    assert decoded.table is None and decoded.frames == 1
