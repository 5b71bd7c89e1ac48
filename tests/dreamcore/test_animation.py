"""dreamcore.animation: the WebP muxer, frame plans for uploads, fitting to a byte limit."""

import io
import itertools

import pytest
from PIL import Image, ImageSequence

from dreamcore.animation import WebPFrames, encode_animation, fit, plan_frames, read_frames
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


def test_an_upload_over_the_cap_is_sampled_evenly_and_keeps_its_timing():
    plan = plan_frames(durations(gif(10, duration=50)), 4)
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


def stored(n: int = 3, size=(64, 48)) -> WebPFrames:
    store = WebPFrames()
    for i in range(n):
        store.add(noise(i, size))
    return store


def test_a_gif_frame_longer_than_gif_can_say_is_shown_as_long_as_it_can():
    """GIF counts 16-bit centiseconds: 700 s (a slow upload thinned to fit) is 655.35 s, not an
    OverflowError."""
    store = stored()
    data = encode_animation(store.frames, store.size, "gif", 700_000, quality=85)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 3
        assert im.info["duration"] == 655_350


def test_a_webp_frame_of_2_to_the_24_ms_is_clamped_not_wrapped():
    store = stored()
    for asked, kept in ((2**24 + 500, 2**24 - 1), (40_000, 40_000)):
        with Image.open(io.BytesIO(store.mux(asked))) as im:
            times = []
            for frame in ImageSequence.Iterator(im):
                frame.load()  # Pillow reads a WebP frame's duration only as it decodes it
                times.append(frame.info["duration"])
        assert times == [kept] * 3, (asked, times)


@pytest.mark.parametrize("ms", [2000, 150, 83])
def test_mp4_frames_last_what_they_were_asked_to(ms):
    """A whole-number frame rate played 2000 ms frames at 1000 ms and 150 ms ones at 143 ms."""
    av = pytest.importorskip("av", reason="MP4 needs PyAV (the `video` extra)")
    store = stored(4)
    data = encode_animation(store.frames, store.size, "mp4", ms, quality=85)
    with av.open(io.BytesIO(data)) as container:
        starts = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    assert len(starts) == 4
    gaps = [round(b - a, 4) for a, b in itertools.pairwise(starts)]
    assert gaps == [ms / 1000] * 3


def test_fit_tries_the_fallback_format_before_shrinking_and_says_so():
    pytest.importorskip("av", reason="MP4 needs PyAV (the `video` extra)")
    store = WebPFrames()
    for i in range(8):
        store.add(noise(i, (200, 150)))
    smallest_webp = len(encode_animation(store.frames, store.size, "webp", 80, quality=40))
    as_mp4 = fit(store, "webp", 80, smallest_webp - 1, fallback="mp4")
    assert (as_mp4.format, as_mp4.width, as_mp4.height, as_mp4.frames) == ("mp4", 200, 150, 8)
    assert as_mp4.data[4:8] == b"ftyp" and len(as_mp4.data) < smallest_webp
    assert as_mp4.notes[-1] == "sent as MP4: as an animated WebP it was over the upload limit"
    shrunk = fit(store, "webp", 80, smallest_webp - 1)  # no fallback: smaller frames instead
    assert shrunk.format == "webp" and shrunk.width < 200
