"""Videos in (dreamcore/video.py, through the decode the intake and the worker share): known by
their bytes, their frames counted and timed from the container before any is decoded, read one
at a time, audio dropped; hostile ones refused in one line, and a decode that stays bounded
whatever the file says or holds. Videos are made here with PyAV, tiny."""

from __future__ import annotations

import io
import sys

import pytest
from PIL import Image

from dreamcore import video
from dreamcore.animation import plan_frames, read_frames
from dreamcore.config import EngineConfig
from dreamcore.errors import InvalidImage
from dreamcore.frames import frames_made
from dreamcore.imaging import decode_for_dream
from dreamcore.request import DreamParams

pytest.importorskip("av", reason="videos need PyAV (the `video` extra)")
from tests import videos as V

ENGINE = EngineConfig()  # the shipped limits


@pytest.fixture
def decoded_frames(monkeypatch) -> list[int]:
    """Counts the frames FFmpeg decodes (every one, wanted or not)."""
    count = [0]
    real = video._decoded

    def counting(*args):
        for frame in real(*args):
            count[0] += 1
            yield frame

    monkeypatch.setattr(video, "_decoded", counting)
    return count


def grey(image: Image.Image) -> int:
    return image.convert("L").getpixel((image.width // 2, image.height // 2))


@pytest.mark.parametrize("fmt", ["mp4", "mov", "webm"])
def test_a_video_is_known_by_its_bytes_and_read_like_an_animation(fmt):
    data = V.clip(fmt, frames=8, fps=10)
    assert video.sniff(data) == fmt.upper()
    decoded = decode_for_dream(data, ENGINE, max_side=512)  # whatever it was called
    assert (decoded.format, decoded.animated, decoded.frames) == (fmt.upper(), True, 8)
    assert decoded.table.durations_ms == (100,) * 8  # from the packets' timestamps
    assert decoded.rgb.size == (64, 48) and abs(grey(decoded.rgb) - V.shade(0)) <= 3
    plan = plan_frames(decoded.table.durations_ms, 4)
    frames = list(read_frames(data, plan.indices, (32, 24), max_pixels=10**6))
    assert plan.indices == (0, 2, 5, 7) and [f.size for f in frames] == [(32, 24)] * 4
    assert all(abs(grey(f) - V.shade(i)) <= 3 for f, i in zip(frames, plan.indices, strict=True))


def test_images_and_picture_formats_in_video_containers_are_not_videos():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    avif = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"  # ISO media, but a picture
    assert video.sniff(buf.getvalue()) is None and video.sniff(avif) is None
    assert video.sniff(b"") is None and video.sniff(b"GIF89a") is None


def test_the_sound_is_dropped_and_sound_alone_is_refused():
    with_sound = decode_for_dream(V.clip("mp4", audio=True), ENGINE, max_side=512)
    assert with_sound.frames == 8 and with_sound.table.durations_ms == (100,) * 8
    with pytest.raises(InvalidImage, match=r"^That file has sound but no picture; send a video\.$"):
        decode_for_dream(V.sound_only(), ENGINE, max_side=512)


def test_a_phone_video_comes_out_upright():
    """Stored 64x48 with a display matrix turning it a quarter clockwise: shown 48x64, and its
    left edge (white here) on top."""
    pictures = []
    for i in range(3):
        im = Image.new("RGB", (64, 48), (V.shade(i),) * 3)
        im.paste((255, 255, 255), (0, 0, 8, 48))
        pictures.append(im)
    data = V.clip("mp4", pictures=pictures, rotation=-90)
    decoded = decode_for_dream(data, ENGINE, max_side=512)
    assert decoded.rgb.size == (48, 64)
    assert grey(decoded.rgb.crop((0, 0, 48, 6))) > 240  # the white edge is the top
    frames = list(read_frames(data, (0, 2), decoded.rgb.size, max_pixels=10**6))
    assert [f.size for f in frames] == [(48, 64)] * 2


@pytest.mark.parametrize("fmt", ["webm", "mp4"])
def test_100000_frames_are_read_to_the_cap_sampled_and_the_user_told(fmt, decoded_frames):
    """A real video of 100,000 frames (4000 s at 25 fps, 2 MB; the MP4's container says
    100,000): its index is no bigger than the download cap lets it be, and only the first 60 s
    (1,500 frames) of it is read: that many decoded at most, 64 dreamed."""
    data = V.endless(100_000, fmt=fmt)
    if fmt == "mp4":
        import av

        with av.open(io.BytesIO(data)) as container:
            assert container.streams.video[0].frames == 100_000  # what its metadata says
    decoded = decode_for_dream(data, ENGINE, max_side=512)
    assert decoded.frames == 1500 and decoded.notes == (
        "dreamed the first 1:00 of the 1:06:40 video (the limit is 60 s)",
    )
    count = frames_made(DreamParams(), upload_frames=decoded.frames, pixels=32 * 32, engine=ENGINE)
    assert count == ENGINE.max_animation_frames  # the price and the worker's count: one answer
    plan = plan_frames(decoded.table.durations_ms, count)
    assert plan.total == 1500 and len(plan.indices) == 64 and plan.indices[-1] == 1499
    decoded_frames[0] = 0
    assert len(list(read_frames(data, plan.indices, (32, 32), max_pixels=10**6))) == 64
    assert decoded_frames[0] == 1500  # up to the last frame wanted, not one more


def test_a_container_that_lies_about_its_length_is_read_by_its_packets(decoded_frames):
    """It says it lasts 40 ms; it holds 100,000 frames: read to the same cap, the lie not
    quoted to the user, and a decoder asked for frames 0 and 5 decodes 6 frames."""
    data = V.claiming_duration(V.endless(100_000), 0.04)
    decoded = decode_for_dream(data, ENGINE, max_side=512)
    assert decoded.frames == 1500
    assert decoded.notes == ("dreamed the first 1:00 of the video (the limit is 60 s)",)
    decoded_frames[0] = 0
    assert len(list(read_frames(data, (0, 5), (32, 32), max_pixels=10**6))) == 2
    assert decoded_frames[0] == 6


def test_a_long_or_large_video_is_cut_to_what_the_limits_pay_for_and_the_user_told():
    by_time = decode_for_dream(V.clip("webm", frames=25), EngineConfig(max_video_seconds=1.0), 512)
    assert by_time.frames == 10 and by_time.notes == (
        "dreamed the first 1.0 s of the 2.5 s video (the limit is 1 s)",
    )
    cheap = EngineConfig(max_input_animation_pixels=5 * 64 * 48)  # 5 frames' decoding
    by_cost = decode_for_dream(V.clip("mp4", frames=20), cheap, 512)
    assert by_cost.frames == 5 and by_cost.notes == (
        "dreamed the first 0.5 s of the 2.0 s video (the most this bot decodes at 64x48)",
    )


SMALL = EngineConfig(max_input_pixels=100 * 100)


@pytest.mark.parametrize(
    ("data", "engine", "words"),
    [
        (V.garbage_after_ftyp(), ENGINE, "That video is damaged or cut off and can't be decoded"),
        (V.clip("mp4", frames=30)[:1500], ENGINE, "That video is damaged or cut off"),
        (V.clip("mov", codec="png"), ENGINE, "That video's codec (png) isn't supported"),
        (
            V.clip("mp4", size=(160, 120)),
            SMALL,
            "That video is too large: 160x120 pixels a frame, the limit is 10,000 pixels.",
        ),
    ],
    ids=["garbage-after-ftyp", "cut-off", "png-codec", "huge-frames"],
)
def test_hostile_videos_are_refused_in_one_line_before_a_frame_is_decoded(
    data, engine, words, decoded_frames
):
    with pytest.raises(InvalidImage) as refused:
        decode_for_dream(data, engine, max_side=512)
    text = str(refused.value)
    assert text.startswith(words) and "\n" not in text, text
    assert decoded_frames[0] == 0


def test_the_decoder_itself_refuses_a_frame_over_the_limit():
    """A file no check has seen (or one whose frames grow mid-way): FFmpeg is told the limit."""
    with pytest.raises(InvalidImage, match="damaged or cut off"):
        next(read_frames(V.clip("mp4", size=(160, 120)), (0,), None, max_pixels=100 * 100))


def test_without_pyav_a_video_gets_one_line(monkeypatch):
    data = V.clip("mp4")
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` fails as if not installed
    with pytest.raises(InvalidImage) as refused:
        decode_for_dream(data, ENGINE, max_side=512)
    assert str(refused.value) == video.NOT_INSTALLED and "\n" not in video.NOT_INSTALLED
