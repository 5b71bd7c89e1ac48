"""The worker's side of animated uploads and guides (tiny model, CPU): an upload's own timing
kept, hostile frames refused with the intake's words, a guide too thin for the network
refused before the network sees it."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageSequence

from dreamcore.config import EngineConfig
from dreamcore.engine.dreamer import Dreamer
from dreamcore.errors import InvalidImage
from dreamcore.imaging import decode_for_dream
from dreamcore.request import DreamRequest, make_params
from tests import hostile_animations as H
from tests.helpers import noise_png

QUICK = dict(model="tiny", octaves=1, steps=1, frame_steps=1, seed=1, max_side=64)


@pytest.fixture(scope="module")
def dreamer() -> Dreamer:
    return Dreamer(EngineConfig(models=("tiny",), device="cpu"))


def webp_durations(data: bytes) -> list[int]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "WEBP"
        out = []
        for frame in ImageSequence.Iterator(im):
            frame.load()  # Pillow sets a WebP frame's duration as it decodes it
            out.append(frame.info["duration"])
        return out


def test_the_bots_own_webp_dreamed_again_keeps_its_speed(dreamer):
    """A zoom at 12 fps is 83 ms a frame; dreaming that WebP again (Deeper, 🌀) gave 100 ms."""
    zoom = dreamer.run(
        DreamRequest(
            image=noise_png((64, 48)), params=make_params(**QUICK, animate="zoom", frames=4, fps=12)
        )
    )
    assert webp_durations(zoom.image) == [83] * 4
    again = dreamer.run(DreamRequest(image=zoom.image, params=make_params(**QUICK)))
    assert again.frames == 4 and webp_durations(again.image) == [83] * 4


HOSTILE = {
    "gif-far-off-frame": H.gif_far_off_frame(),
    "gif-huge-screen": H.gif_huge_screen(100),
    "webp-big-canvas": H.webp_big_canvas(20),
    "tiff-huge-page": H.tiff_huge_second_page(),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_uploads_get_the_intakes_refusal_from_the_worker(dreamer, name):
    data = HOSTILE[name]
    with pytest.raises(InvalidImage) as at_intake:
        decode_for_dream(data, dreamer.config, 64)  # what the bot's intake runs
    with pytest.raises(InvalidImage) as in_worker:
        dreamer.run(DreamRequest(image=data, params=make_params(**QUICK)))
    assert str(in_worker.value) == str(at_intake.value)
    assert "too large" in str(in_worker.value)


def test_a_guide_too_thin_for_the_network_is_refused_in_one_line(dreamer):
    """2048x40 passed the size checks, became 512x10 for its features, and the network failed
    ("Output size is too small")."""
    buf = io.BytesIO()
    Image.effect_noise((2048, 40), 50).convert("RGB").save(buf, "PNG")
    params = make_params(**QUICK, guided=True)
    with pytest.raises(InvalidImage) as refused:
        dreamer.run(DreamRequest(image=noise_png((64, 48)), params=params, guide=buf.getvalue()))
    text = str(refused.value)
    assert "too small to guide a dream: 2048x40" in text and "at least 32 px" in text, text
    assert "\n" not in text


# --- videos (issue 23): dreamed frame by frame like GIFs -----------------------------------------


def noisy_clip(fmt: str = "mp4", frames: int = 10, **kw) -> bytes:
    av = pytest.importorskip("av", reason="videos need PyAV (the `video` extra)")
    del av
    from tests import videos as V

    pictures = [Image.effect_noise((96, 64), 20 + 5 * i).convert("RGB") for i in range(frames)]
    return V.clip(fmt, pictures=pictures, fps=10, **kw)


@pytest.mark.parametrize("fmt", ["mp4", "webm", "mov"])
def test_a_video_comes_back_animated_frame_for_frame_at_its_own_speed(dreamer, fmt):
    result = dreamer.run(
        DreamRequest(image=noisy_clip(fmt, audio=fmt == "mp4"), params=make_params(**QUICK))
    )
    assert (result.format, result.frames, result.width) == ("webp", 10, 64)  # sound dropped
    assert webp_durations(result.image) == [100] * 10


def test_a_videos_frames_are_counted_by_the_one_rule_and_sampled_under_the_cap():
    capped = Dreamer(EngineConfig(models=("tiny",), device="cpu", max_animation_frames=4))
    result = capped.run(DreamRequest(image=noisy_clip(), params=make_params(**QUICK)))
    assert result.frames == 4 and "dreamed 4 of the 10 frames (the limit)" in result.notes
    assert webp_durations(result.image) == [250] * 4  # the same length in all


def test_a_video_asked_for_as_mp4_comes_back_as_one(dreamer):
    import av

    result = dreamer.run(
        DreamRequest(image=noisy_clip(), params=make_params(**QUICK, output="mp4"))
    )
    with av.open(io.BytesIO(result.image)) as container:
        assert result.format == "mp4" and sum(1 for _ in container.decode(video=0)) == 10


def hostile_videos() -> dict[str, bytes]:
    pytest.importorskip("av", reason="videos need PyAV (the `video` extra)")
    from tests import videos as V

    return {
        "garbage-after-ftyp": V.garbage_after_ftyp(),
        "sound-only": V.sound_only(),
        "cut-off": V.clip("mp4", frames=30)[:1500],
    }


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("garbage-after-ftyp", "That video is damaged or cut off"),
        ("sound-only", "That file has sound but no picture"),
        ("cut-off", "That video is damaged or cut off"),
    ],
)
def test_hostile_videos_get_the_intakes_refusal_from_the_worker(dreamer, name, words):
    data = hostile_videos()[name]
    with pytest.raises(InvalidImage) as at_intake:
        decode_for_dream(data, dreamer.config, 64)  # what the bot's intake runs
    with pytest.raises(InvalidImage) as in_worker:
        dreamer.run(DreamRequest(image=data, params=make_params(**QUICK)))
    text = str(in_worker.value)
    assert text == str(at_intake.value) and text.startswith(words) and "\n" not in text
