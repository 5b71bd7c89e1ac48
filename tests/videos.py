"""Small videos made on the fly with PyAV (the `video` extra; tests that use these import it with
pytest.importorskip first): tiny sizes, few frames, each frame telling which one it is. And the
hostile ones: 100,000 frames in 2 MB, a container that lies about its length, garbage after a
valid `ftyp` box, sound and no picture."""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import av
import numpy as np
from PIL import Image

CODECS = {"mp4": "libx264", "mov": "libx264", "webm": "libvpx"}


def shade(index: int) -> int:
    """Frame `index`'s grey level (distinct for the first 12 frames, wrapping after)."""
    return 10 + 20 * (index % 12)


def clip(
    fmt: str = "mp4",
    frames: int = 8,
    size: tuple[int, int] = (64, 48),
    fps: int = 10,
    *,
    codec: str | None = None,
    rotation: int | None = None,
    audio: bool = False,
    pictures: list[Image.Image] | None = None,
) -> bytes:
    """A `fmt` video of `frames` frames of grey `shade(i)` (or `pictures`), at `fps`; with a
    display `rotation` (degrees counter-clockwise) and a sound track when asked."""
    pictures = pictures or [Image.new("RGB", size, (shade(i),) * 3) for i in range(frames)]
    size = pictures[0].size
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec or CODECS[fmt], rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "rgb24" if codec == "png" else "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=8000) if audio else None
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(np.asarray(picture.convert("RGB")), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            _add_sound(container, sound, seconds=len(pictures) / fps)
    return buf.getvalue()


def _add_sound(container, stream, seconds: float) -> None:
    samples = int(8000 * seconds)
    tone = (np.sin(np.arange(samples) / 8000 * 2 * np.pi * 440) * 0.3).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = tone[None, start : start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def sound_only() -> bytes:
    """An MP4 with a sound track and no picture."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        _add_sound(container, container.add_stream("aac", rate=8000), seconds=0.5)
    return buf.getvalue()


def endless(
    frames: int = 100_000, fps: int = 25, size: tuple[int, int] = (32, 32), fmt: str = "webm"
) -> bytes:
    """A real video of `frames` frames (4000 s at 25 fps) in ~2 MB, WebM (VP8) or MP4 (MPEG-4
    part 2, whose container counts the frames): one key frame, then the same "nothing changed"
    frame over and over (encoded once, muxed `frames - 1` times)."""
    codec = {"webm": "libvpx", "mp4": "mpeg4"}[fmt]
    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height, encoder.pix_fmt = size[0], size[1], "yuv420p"
    encoder.time_base = Fraction(1, fps)
    grey = np.full((size[1], size[0], 3), 100, np.uint8)
    packets = []
    for index in range(3):
        frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
        frame.pts = index
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    key, unchanged = bytes(packets[0]), bytes(packets[-1])
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.time_base = Fraction(1, fps)
        for index in range(frames):
            packet = av.Packet(key if index == 0 else unchanged)
            packet.pts = packet.dts = index
            packet.time_base, packet.stream = Fraction(1, fps), stream
            packet.is_keyframe = index == 0
            container.mux(packet)
    return buf.getvalue()


def claiming_duration(webm: bytes, seconds: float) -> bytes:
    """`webm` with its Segment Info's Duration (an 8-byte float, in milliseconds) saying
    `seconds`: what players and FFmpeg report as its length, whatever the frames say."""
    at = webm.index(b"\x44\x89\x88") + 3  # EBML id 0x4489, size 8
    return webm[:at] + struct.pack(">d", seconds * 1000) + webm[at + 8 :]


def garbage_after_ftyp() -> bytes:
    """A valid `ftyp` box (an MP4's first bytes), then 4 kB of noise."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomavc1"
    return ftyp + bytes((i * 97 + 13) % 256 for i in range(4096))
