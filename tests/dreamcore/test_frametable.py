"""dreamcore.frametable: an animation's frames (timing, canvases) read from its container, with
no pixel decoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFile

from dreamcore.frametable import frame_table
from tests import hostile_animations as H


@pytest.fixture
def no_decoding(monkeypatch):
    """Any pixel decoded fails the test: the table must come from headers alone."""

    def refuse(self):
        raise AssertionError(f"{self.format} pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def table(data: bytes):
    with Image.open(io.BytesIO(data)) as im:
        return frame_table(data, im)


def pillow_saved(fmt: str, durations: list[int], size=(40, 30)) -> bytes:
    frames = [Image.new("RGB", size, (40 * i, 90, 200 - 40 * i)) for i in range(len(durations))]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_each_frames_own_duration_without_decoding_it(fmt, no_decoding):
    durations = [30, 250, 1000, 70]
    got = table(pillow_saved(fmt, durations))
    assert got.durations_ms == tuple(durations)
    assert got.canvases == ((40, 30),) * 4 and got.frames == 4


def test_a_webp_made_by_the_bot_keeps_its_frame_time(no_decoding):
    """Pillow reports 100 ms for every WebP frame until it is decoded; the bot's own zooms are
    80 ms a frame (12 fps)."""
    assert table(H.webp_animation((64, 48), [83] * 5)).durations_ms == (83,) * 5


def test_frames_that_say_no_time_show_for_100_ms(no_decoding):
    data = H.gif((8, 8), [H.gif_frame(0, 0, 8, 8, delay_cs=None), H.gif_frame(0, 0, 8, 8, 0)])
    assert table(data).durations_ms == (100, 100)


def test_a_gif_canvas_grows_with_a_frame_that_sticks_out(no_decoding):
    got = table(H.gif_far_off_frame(at=11999, frames=3))
    assert got.canvases == ((64, 64), (12000, 12000), (12000, 12000))
    assert got.largest == (12000, 12000)
    assert got.decoded_pixels == 64 * 64 + 2 * 12000 * 12000


def test_a_huge_logical_screen_is_every_frames_canvas(no_decoding):
    got = table(H.gif_huge_screen(frames=50, side=8000))
    assert got.frames == 50 and set(got.canvases) == {(8000, 8000)}
    assert got.decoded_pixels == 50 * 8000 * 8000


def test_a_webp_canvas_is_every_frames_canvas(no_decoding):
    got = table(H.webp_big_canvas(frames=20, side=8000))
    assert got.frames == 20 and got.largest == (8000, 8000)


def test_tiff_pages_keep_their_own_sizes(no_decoding):
    got = table(H.tiff_pages([(64, 64), (13000, 13000), (50, 40)]))
    assert got.canvases == ((64, 64), (13000, 13000), (50, 40))
