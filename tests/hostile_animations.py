"""Hostile animated and multi-page files, built byte by byte (no binary fixtures): each is a
few kB that costs gigabytes or seconds to decode when its frames are read without bound.

Written by hand rather than with Pillow's writers, which would never produce them: a GIF frame
far outside its logical screen, a huge logical screen under tiny frames, a WebP canvas that
frames barely use, a TIFF whose later page is huge.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

# --- GIF ----------------------------------------------------------------------------------------


def _lzw(pixels: int, index: int = 1) -> bytes:
    """LZW data for `pixels` pixels of one palette index, as sub-blocks: every code is preceded
    by a clear code, so the table never grows and every code stays 3 bits wide."""
    clear, end, width = 4, 5, 3  # min code size 2
    codes = [c for _ in range(pixels) for c in (clear, index)] + [end]
    acc = nbits = 0
    out = bytearray()
    for code in codes:  # packed least significant bit first
        acc |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    blocks = b"".join(
        bytes([len(out[i : i + 255])]) + bytes(out[i : i + 255]) for i in range(0, len(out), 255)
    )
    return b"\x02" + blocks + b"\x00"


def gif_frame(x: int, y: int, w: int, h: int, delay_cs: int | None = 10, index: int = 1) -> bytes:
    """A graphic control extension (when `delay_cs` is given) and one image at (x, y)."""
    gce = b"" if delay_cs is None else b"!\xf9\x04\x00" + struct.pack("<H", delay_cs) + b"\x00\x00"
    return gce + b"," + struct.pack("<HHHH", x, y, w, h) + b"\x00" + _lzw(w * h, index)


def gif(screen: tuple[int, int], frames: list[bytes]) -> bytes:
    """A GIF89a with a two-colour global palette (black, white) and these frames."""
    header = b"GIF89a" + struct.pack("<HH", *screen) + b"\x80\x00\x00"  # GCT of 2 entries
    palette = b"\x00\x00\x00\xff\xff\xff"
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    return header + palette + loop + b"".join(frames) + b";"


def gif_far_off_frame(at: int = 11999, frames: int = 3) -> bytes:
    """A 64x64 GIF whose later frames are one pixel at (at, at): Pillow grows the canvas to
    (at + 1)^2 when it seeks there (12000x12000: 144 Mpx, 2.4 GB for three frames)."""
    return gif((64, 64), [gif_frame(0, 0, 64, 64)] + [gif_frame(at, at, 1, 1)] * (frames - 1))


def gif_huge_screen(frames: int = 100, side: int = 8000) -> bytes:
    """A side x side logical screen (64 Mpx at 8000) drawn on by 1-pixel frames: every frame is
    decoded at the whole screen."""
    return gif((side, side), [gif_frame(i % side, 0, 1, 1) for i in range(frames)])


# --- WebP ---------------------------------------------------------------------------------------


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def _webp_bitstream(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    """The VP8L chunk of a lossless single-frame WebP of one colour."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "WEBP", lossless=True)
    data = buf.getvalue()
    assert data[12:16] == b"VP8L", data[12:16]
    return data[12:]


def webp_animation(
    canvas: tuple[int, int], durations_ms: list[int], frame: tuple[int, int] = (1, 1)
) -> bytes:
    """An animated WebP: a canvas, and one small frame per duration at its top left corner."""
    vp8x = b"\x02\x00\x00\x00" + _u24(canvas[0] - 1) + _u24(canvas[1] - 1)  # animation flag
    anim = struct.pack("<IH", 0xFF000000, 0)
    chunks = [_chunk(b"VP8X", vp8x), _chunk(b"ANIM", anim)]
    for i, ms in enumerate(durations_ms):
        shade = 40 + 50 * (i % 4)
        header = _u24(0) + _u24(0) + _u24(frame[0] - 1) + _u24(frame[1] - 1) + _u24(ms) + b"\x02"
        chunks.append(_chunk(b"ANMF", header + _webp_bitstream((shade,) * 3, frame)))
    body = b"".join(chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_big_canvas(frames: int = 20, side: int = 8000) -> bytes:
    """1 kB, `frames` 1-pixel frames on a side x side canvas: each decoded at the whole canvas."""
    return webp_animation((side, side), [100] * frames)


# --- TIFF ---------------------------------------------------------------------------------------


def tiff_pages(sizes: list[tuple[int, int]]) -> bytes:
    """A little-endian TIFF with one 8-bit grey page per size. Pages up to 256x256 hold real
    (uncompressed, grey 128) pixels; a larger page holds a 16-byte strip that claims the
    whole page: its header is the bomb, refused before any pixel is read."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")  # first IFD's offset patched below
    link = 4  # where the offset of the next IFD goes
    for w, h in sizes:
        strip = bytes([128]) * (w * h) if w * h <= 256 * 256 else bytes(16)
        strip_at = len(out)
        out += strip
        if len(out) % 2:
            out += b"\0"
        ifd_at = len(out)
        struct.pack_into("<I", out, link, ifd_at)
        tags = [  # tag, type (3 SHORT, 4 LONG), value
            (256, 4, w),
            (257, 4, h),
            (258, 3, 8),
            (259, 3, 1),  # no compression
            (262, 3, 1),  # black is zero
            (273, 4, strip_at),
            (277, 3, 1),
            (278, 4, h),
            (279, 4, w * h),
        ]
        out += struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, 1) + packed
        link = len(out)
        out += b"\0\0\0\0"  # no next IFD (yet)
    return bytes(out)


def tiff_huge_second_page(side: int = 13000) -> bytes:
    """A 64x64 page, then a side x side one (169 Mpx at 13000)."""
    return tiff_pages([(64, 64), (side, side)])
