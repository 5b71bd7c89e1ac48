"""An animated or multi-page file's frames as its container lays them out, read without decoding a
pixel: each frame's display time, and the canvas it is decoded on.

Pillow learns both only by decoding: a WebP or AVIF frame's duration is set once the frame is
loaded, and a GIF's canvas grows when a frame that sticks out of the logical screen is reached
(a 1-pixel frame at (11999, 11999) makes every later frame 144 Mpx). Reading the table first
lets the caller refuse what decoding would cost, and keep an upload's timing, before any of it.
No torch; Pillow only for what its header parsing already knows (frame counts, TIFF page sizes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from PIL import Image

DEFAULT_DURATION_MS = 100  # a frame that says 0 (or nothing): what players and Pillow show


@dataclass(frozen=True)
class FrameTable:
    durations_ms: tuple[int, ...]  # each frame's display time
    canvases: tuple[tuple[int, int], ...]  # the size each frame is decoded at, in order

    @property
    def frames(self) -> int:
        return len(self.durations_ms)

    @property
    def largest(self) -> tuple[int, int]:
        """The biggest canvas any frame is decoded on."""
        return max(self.canvases, key=lambda size: size[0] * size[1])

    @property
    def decoded_pixels(self) -> int:
        """What decoding every frame costs, in pixels (a later frame needs the ones before it)."""
        return sum(w * h for w, h in self.canvases)


class Damaged(ValueError):
    """The container's structure is cut off or inconsistent."""


def frame_table(data: bytes, im: Image.Image) -> FrameTable:
    """The frames of `data`, already opened by Pillow as `im` (left at frame 0)."""
    if im.format == "GIF":
        return _gif(data)
    frames = int(getattr(im, "n_frames", 1))
    if im.format == "TIFF":  # pages of their own sizes; seeking reads an IFD, no pixels
        sizes = []
        for page in range(frames):
            im.seek(page)
            sizes.append(im.size)
        im.seek(0)
        return FrameTable((DEFAULT_DURATION_MS,) * frames, tuple(sizes))
    durations: list[int] = []
    if im.format == "WEBP":
        durations = _webp_durations(data)
    elif im.format == "PNG":
        durations = _apng_durations(data, default_image=bool(im.info.get("default_image")))
    durations = (durations + [DEFAULT_DURATION_MS] * frames)[:frames]
    return FrameTable(tuple(durations), (im.size,) * frames)


def _shown(ms: float) -> int:
    return round(ms) or DEFAULT_DURATION_MS


# --- GIF: blocks --------------------------------------------------------------------------------


def _gif(data: bytes) -> FrameTable:
    """Mirrors Pillow's GifImagePlugin: a frame per image descriptor, its delay from the graphic
    control extension before it, the canvas grown to hold every frame so far."""
    if len(data) < 13:
        raise Damaged("GIF header cut off")
    width, height = struct.unpack_from("<HH", data, 6)
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    durations: list[int] = []
    canvases: list[tuple[int, int]] = []
    delay_cs = 0
    end = len(data)
    while pos < end:
        tag = data[pos]
        pos += 1
        if tag == 0x3B:  # trailer
            break
        if tag == 0x21:  # extension: a label, then sub-blocks
            if pos + 1 < end and data[pos] == 0xF9 and data[pos + 1] >= 3 and pos + 4 < end:
                delay_cs = data[pos + 3] | data[pos + 4] << 8
            pos = _skip_sub_blocks(data, pos + 1)
        elif tag == 0x2C:  # image descriptor
            if pos + 9 > end:
                break
            x, y, w, h, image_flags = struct.unpack_from("<HHHHB", data, pos)
            pos += 9
            if image_flags & 0x80:
                pos += 3 << ((image_flags & 7) + 1)  # local colour table
            pos = _skip_sub_blocks(data, pos + 1)  # after the LZW minimum code size
            width, height = max(width, x + w), max(height, y + h)
            durations.append(_shown(delay_cs * 10))
            canvases.append((width, height))
            delay_cs = 0  # a delay belongs to the one image after it
        # any other byte: skipped, as Pillow does
    if not durations:
        raise Damaged("GIF without an image")
    return FrameTable(tuple(durations), tuple(canvases))


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    end = len(data)
    while pos < end and data[pos]:
        pos += data[pos] + 1
    return pos + 1


# --- WebP: RIFF chunks --------------------------------------------------------------------------


def _riff_chunks(data: bytes):
    pos = 12  # after "RIFF" size "WEBP"
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        yield fourcc, data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)


def _webp_durations(data: bytes) -> list[int]:
    """Each ANMF chunk's duration (24 bits, ms, after x, y, width and height)."""
    return [
        _shown(int.from_bytes(payload[12:15], "little"))
        for fourcc, payload in _riff_chunks(data)
        if fourcc == b"ANMF" and len(payload) >= 16
    ]


# --- APNG: PNG chunks ---------------------------------------------------------------------------


def _apng_durations(data: bytes, *, default_image: bool) -> list[int]:
    """Each fcTL's delay (numerator / denominator seconds; a denominator of 0 means 1/100), as
    Pillow counts frames: a default image outside the animation is its frame 0."""
    durations = [DEFAULT_DURATION_MS] if default_image else []
    pos = 8  # after the signature
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"fcTL" and len(body) >= 26:
            num, den = struct.unpack_from(">HH", body, 20)
            durations.append(_shown(num / (den or 100) * 1000))
        elif kind == b"IEND":
            break
        pos += 12 + length
    return durations
