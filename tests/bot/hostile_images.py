"""Hostile and unusual images for the intake tests, generated with Pillow (no binary fixtures)."""

from __future__ import annotations

import io
import os
import struct
import zlib

from PIL import Image


def _save(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def noise(w: int, h: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Noisy content (so a dream of it doesn't compress to nothing)."""
    grey = Image.effect_noise((w, h), 40 + seed)
    if mode == "L":
        return grey
    return Image.merge(
        "RGB", (grey, grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grey.rotate(180))
    ).convert(mode)


def png(w: int = 80, h: int = 80, seed: int = 0) -> bytes:
    return _save(noise(w, h, seed=seed), "PNG")


def jpeg(w: int = 80, h: int = 80, seed: int = 0) -> bytes:
    return _save(noise(w, h, seed=seed), "JPEG", quality=90)


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose IHDR claims width x height (IDAT holds only a few bytes)."""
    data = bytearray(_save(Image.new("L", (8, 8), 0), "PNG"))
    # PNG signature (8) + IHDR length (4) + b"IHDR" (4) -> width, height at 16..24, CRC at 29..33
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * keep))]


def cmyk_jpeg(w: int = 80, h: int = 80) -> bytes:
    return _save(noise(w, h).convert("CMYK"), "JPEG", quality=90)


def png16(w: int = 80, h: int = 80) -> bytes:
    """16-bit greyscale PNG using the whole 0..65535 range."""
    im = noise(w, h, mode="L").convert("I").point(lambda v: v * 257).convert("I;16")
    return _save(im, "PNG")


def palette_png_with_transparency(w: int = 80, h: int = 80) -> bytes:
    """A P-mode PNG (tRNS): palette index 15, used only in the left half, is transparent."""
    im = noise(w, h).quantize(15)
    im.putpalette([*im.getpalette()[: 15 * 3], 0, 0, 0])
    im.paste(15, (0, 0, w // 2, h))
    return _save(im, "PNG", transparency=15)


def animated(fmt: str, w: int = 80, h: int = 80, frames: int = 3) -> bytes:
    ims = [noise(w, h, seed=i) for i in range(frames)]
    options: dict[str, object] = {
        "save_all": True,
        "append_images": ims[1:],
        "duration": 100,
        "loop": 0,
    }
    if fmt == "WEBP":
        options["lossless"] = False
    return _save(ims[0], fmt, **options)


def exif_rotated_jpeg(w: int = 96, h: int = 64, orientation: int = 6) -> bytes:
    """A w x h JPEG stored sideways, with EXIF Orientation telling viewers to rotate it.

    The top-left quarter is pure red so that a test can see where it ended up."""
    im = noise(w, h)
    im.paste((255, 0, 0), (0, 0, w // 2, h // 2))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(im, "JPEG", quality=95, exif=exif.tobytes())


def incompressible_png(min_bytes: int) -> bytes:
    """A PNG of random pixels at least `min_bytes` long (random data doesn't compress)."""
    side = int((min_bytes / 3) ** 0.5) + 8
    im = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    data = _save(im, "PNG")
    assert len(data) >= min_bytes, len(data)
    return data
