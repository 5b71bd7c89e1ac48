"""dreamcore.animation: the WebP muxer, frame plans for uploads, fitting to a byte limit."""

import io

import pytest
from PIL import Image, ImageSequence

from dreamcore.animation import (
    WebPFrames,
    fit,
    frame_count,
    plan_frames,
    read_frames,
)
from dreamcore.frametable import frame_table


def noise(i: int, size=(96, 64)) -> Image.Image:
    return Image.effect_noise(size, 20 + 7 * i).convert("RGB")


def gif(frames: int, duration: int = 50) -> bytes:
    images = [noise(i, (64, 48)) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return buf.getvalue()


def durations(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as im:
        return frame_table(data, im).durations_ms


def test_frames_muxed_from_their_bitstreams_make_an_animation_players_read():
    store = WebPFrames()
    shades = [30, 200, 90, 250, 10]  # each frame its own grey: the order must survive
    for shade in shades:
        store.add(Image.new("RGB", (96, 64), (shade, shade, shade)))
    data = store.mux(duration_ms=80)
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.n_frames, im.size, im.info.get("loop")) == ("WEBP", 5, (96, 64), 0)
        greys = [f.convert("L").getpixel((10, 10)) for f in ImageSequence.Iterator(im)]
    assert all(abs(a - b) < 8 for a, b in zip(greys, shades, strict=True)), greys


def test_frame_counts_for_a_zoom_and_for_uploads_under_the_caps():
    caps = dict(max_frames=64, max_pixels=64 * 512 * 512, pixels=512 * 512)
    assert frame_count(requested=None, upload_frames=1, **caps) == 16  # a zoom's default
    assert frame_count(requested=100, upload_frames=1, **caps) == 64
    assert frame_count(requested=None, upload_frames=30, **caps) == 30  # all of an upload's
    assert frame_count(requested=8, upload_frames=30, **caps) == 8
    assert frame_count(requested=None, upload_frames=30, max_frames=64, max_pixels=10 * 512 * 512,
                       pixels=512 * 512) == 10  # fmt: skip


def test_an_upload_over_the_cap_is_sampled_evenly_and_keeps_its_timing():
    plan = plan_frames(durations(gif(10, duration=50)), requested=None, max_frames=4,
                       max_pixels=10**9, pixels=64 * 48)  # fmt: skip
    assert plan.total == 10 and plan.indices == (0, 3, 6, 9) and plan.sampled
    assert plan.duration_ms == 125  # 10 frames of 50 ms shown as 4: the same length
    frames = list(read_frames(gif(10), plan.indices, (32, 24), max_pixels=10**6))
    assert [f.size for f in frames] == [(32, 24)] * 4


def test_fit_reduces_quality_then_size_then_frames_and_says_so():
    store = WebPFrames()
    for i in range(8):
        store.add(noise(i, (200, 150)))
    whole = fit(store, "webp", 80, None)
    assert whole.notes == () and whole.frames == 8
    fitted = fit(store, "webp", 80, len(whole.data) // 4)
    assert len(fitted.data) <= len(whole.data) // 4 and fitted.notes
    with pytest.raises(Exception, match="small enough"):
        fit(store, "webp", 80, 100)
