"""dreamcore.imaging: every case is generated with Pillow here; no binary fixtures."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image, ImageFile

from dreamcore.errors import InvalidImage
from dreamcore.imaging import decode_image, encode_image, encode_preview

LIMITS = dict(max_side=1024, max_pixels=64_000_000, min_side=32)


def save(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def decode(data: bytes, **overrides) -> object:
    return decode_image(data, **{**LIMITS, **overrides})


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    rnd = random.Random(seed)
    return Image.frombytes(mode, size, rnd.randbytes(size[0] * size[1] * len(mode)))


# --- modes -------------------------------------------------------------------------------------


def test_rgb_png_round_trips():
    im = noise((40, 50))
    out = decode(save(im, "PNG"))
    assert out.format == "PNG" and out.rgb.mode == "RGB" and out.alpha is None
    assert out.rgb.tobytes() == im.tobytes()
    assert not out.animated and out.notes == ()


def test_grayscale_l_becomes_rgb():
    im = Image.linear_gradient("L").resize((64, 64))
    out = decode(save(im, "PNG"))
    assert out.rgb.getpixel((10, 63)) == (im.getpixel((10, 63)),) * 3
    assert out.alpha is None


def test_la_keeps_alpha():
    im = Image.merge(
        "LA", (Image.new("L", (40, 40), 100), Image.linear_gradient("L").resize((40, 40)))
    )
    out = decode(save(im, "PNG"))
    assert out.rgb.getpixel((0, 0)) == (100, 100, 100)
    assert out.alpha is not None and out.alpha.mode == "L" and out.alpha.size == (40, 40)
    assert out.alpha.tobytes() == im.getchannel("A").tobytes()


def test_rgba_keeps_alpha():
    im = Image.new("RGBA", (40, 40), (10, 20, 30, 128))
    out = decode(save(im, "PNG"))
    assert out.rgb.getpixel((5, 5)) == (10, 20, 30)
    assert out.alpha.getpixel((5, 5)) == 128


def test_opaque_alpha_is_dropped():
    out = decode(save(Image.new("RGBA", (40, 40), (1, 2, 3, 255)), "PNG"))
    assert out.alpha is None and out.rgb.getpixel((0, 0)) == (1, 2, 3)


def test_palette_with_transparency_gives_alpha():
    im = Image.new("P", (40, 40), 1)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(0, (0, 0, 20, 40))
    out = decode(save(im, "PNG", transparency=0))
    assert out.rgb.getpixel((30, 5)) == (0, 255, 0)
    assert out.alpha.getpixel((5, 5)) == 0 and out.alpha.getpixel((30, 5)) == 255


def test_palette_without_transparency():
    im = Image.new("P", (40, 40), 1)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    out = decode(save(im, "GIF"))
    assert out.rgb.getpixel((3, 3)) == (0, 0, 255) and out.alpha is None


@pytest.mark.parametrize(
    "cmyk,rgb",
    [
        ((255, 0, 0, 0), (0, 255, 255)),  # cyan
        ((0, 255, 0, 0), (255, 0, 255)),  # magenta
        ((0, 0, 255, 0), (255, 255, 0)),  # yellow
        ((0, 0, 0, 255), (0, 0, 0)),  # black
        ((0, 0, 0, 0), (255, 255, 255)),  # paper
    ],
)
def test_cmyk_jpeg_is_not_inverted(cmyk, rgb):
    out = decode(save(Image.new("CMYK", (40, 40), cmyk), "JPEG", quality=100))
    got = out.rgb.getpixel((20, 20))
    assert all(abs(a - b) <= 3 for a, b in zip(got, rgb, strict=True)), got


def test_16bit_png_scales_full_range_keeping_order():
    im = Image.new("I;16", (256, 40))
    im.putdata([x * 257 for x in range(256)] * 40)  # 0..65535
    data = save(im, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    row = [decode(data).rgb.getpixel((x, 0))[0] for x in range(256)]
    assert row[0] == 0 and row[-1] == 255
    assert row == sorted(row) and len(set(row)) > 250  # not clipped into a few values


def test_dark_16bit_png_stays_dark():
    im = Image.new("I;16", (40, 40), 1000)  # of 65535
    assert decode(save(im, "PNG")).rgb.getpixel((0, 0)) == (4, 4, 4)


def test_32bit_int_tiff_is_normalised():
    im = Image.new("I", (256, 40))
    im.putdata([x * 1_000_000 for x in range(256)] * 40)
    row = [decode(save(im, "TIFF")).rgb.getpixel((x, 0))[0] for x in range(256)]
    assert row[0] == 0 and row[-1] == 255 and row == sorted(row)


def test_float_tiff_in_unit_range():
    im = Image.new("F", (256, 40))
    im.putdata([x / 255 for x in range(256)] * 40)
    row = [decode(save(im, "TIFF")).rgb.getpixel((x, 0))[0] for x in range(256)]
    assert row == list(range(256))


def test_bilevel_mode_1():
    im = Image.new("1", (40, 40), 0)
    im.paste(1, (20, 0, 40, 40))
    out = decode(save(im, "PNG"))
    assert out.rgb.getpixel((5, 5)) == (0, 0, 0) and out.rgb.getpixel((30, 5)) == (255, 255, 255)


def test_ycbcr_tiff():
    im = Image.new("RGB", (40, 40), (200, 30, 60)).convert("YCbCr")
    data = save(im, "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "YCbCr"
    got = decode(data).rgb.getpixel((5, 5))
    assert all(abs(a - b) <= 3 for a, b in zip(got, (200, 30, 60), strict=True))


# --- orientation, animation, sizes -------------------------------------------------------------


def test_exif_orientation_6_rotates():
    im = Image.new("RGB", (80, 40), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 40, 40))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    out = decode(save(im, "JPEG", exif=exif, quality=95))
    assert out.rgb.size == (40, 80)
    top = out.rgb.getpixel((20, 10))
    assert top[2] > 200 and top[0] < 50  # the blue left half is now on top


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_is_flagged_and_checked_on_its_first_frame(fmt):
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = save(
        frames[0],
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        **({"lossless": True} if fmt == "WEBP" else {}),
    )
    out = decode(data)
    assert out.animated and out.format == fmt and out.notes == ()
    r, g, b = out.rgb.getpixel((20, 20))
    assert r > 240 and g < 15 and b < 15


@pytest.mark.parametrize("size", [(1, 1), (10000, 3), (3, 10000), (20, 100)])
def test_too_small_refused(size):
    with pytest.raises(InvalidImage, match="too small to dream") as err:
        decode(save(Image.new("L", size), "PNG"))
    assert "at least 32 px after fitting into 1024 px" in str(err.value)


def test_huge_image_downscaled_with_note():
    im = Image.new("RGB", (4000, 3000), (50, 100, 150))
    out = decode(save(im, "JPEG", quality=80))
    assert out.rgb.size == (1024, 768) and "from 4000x3000" in out.notes[-1]
    assert "downscaled from 4000x3000 to 1024x768" in out.notes
    assert all(
        abs(a - b) <= 3 for a, b in zip(out.rgb.getpixel((500, 500)), (50, 100, 150), strict=True)
    )


def test_downscale_keeps_alpha_aligned():
    im = Image.new("RGBA", (2048, 1024), (0, 0, 0, 0))
    out = decode(save(im, "PNG"))
    assert out.rgb.size == out.alpha.size == (1024, 512)


# --- hostile and broken input ------------------------------------------------------------------


def _png_with_header(w: int, h: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_refused_from_header():
    data = _png_with_header(100_000, 100_000)  # 30 GB of pixels claimed in ~100 bytes
    assert len(data) < 200
    with pytest.raises(InvalidImage, match="too large"):
        decode(data)


def test_over_our_pixel_limit_refused_with_dimensions():
    with pytest.raises(InvalidImage, match=r"too large: 9000x9000 pixels, the limit is 64,000,000"):
        decode(_png_with_header(9000, 9000))  # under Pillow's own limit, over ours


def test_bomb_warning_does_not_escape_or_change_globals():
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(InvalidImage, match="too large"):
        decode(_png_with_header(10_000, 10_000), max_pixels=10**9)  # Pillow's warning zone
    assert Image.MAX_IMAGE_PIXELS == before and ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_empty_bytes():
    with pytest.raises(InvalidImage, match="empty"):
        decode(b"")


def test_text_file_named_png():
    with pytest.raises(InvalidImage, match="isn't an image"):
        decode(b"hello, this is not a picture\n" * 10)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_fails_instead_of_decoding_gray(fmt):
    data = save(noise((200, 200)), fmt)
    with pytest.raises(InvalidImage, match=r"cut off|damaged"):
        decode(data[: len(data) // 2])


def test_corrupt_png_data():
    data = bytearray(save(noise((100, 100)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 200] = b"\xff" * 190
    with pytest.raises(InvalidImage, match=r"damaged|cut off"):
        decode(bytes(data))


def test_unsupported_format_refused():
    with pytest.raises(InvalidImage, match="aren't supported"):
        decode(save(Image.new("RGB", (40, 40)), "PCX"))


def test_encode_png_when_no_limit():
    data, fmt = encode_image(noise((64, 64)))
    assert fmt == "png" and Image.open(io.BytesIO(data)).format == "PNG"


def test_encode_falls_back_to_lossy_when_png_too_big():
    im = noise((256, 256))  # noise PNG ~200 KB
    data, fmt = encode_image(im, max_bytes=100_000)
    assert fmt in ("webp", "jpeg") and len(data) <= 100_000
    assert Image.open(io.BytesIO(data)).size == (256, 256)


def test_encode_downscales_for_tiny_limit():
    data, _fmt = encode_image(noise((512, 512)), max_bytes=4_000)
    assert len(data) <= 4_000
    assert Image.open(io.BytesIO(data)).size[0] < 512


def test_encode_keeps_alpha_in_png():
    alpha = Image.linear_gradient("L").resize((64, 64))
    data, fmt = encode_image(Image.new("RGB", (64, 64), (1, 2, 3)), alpha)
    out = Image.open(io.BytesIO(data))
    assert fmt == "png" and out.mode == "RGBA" and out.getchannel("A").tobytes() == alpha.tobytes()


def test_encode_keeps_alpha_in_webp():
    alpha = Image.linear_gradient("L").resize((256, 256))
    data, fmt = encode_image(noise((256, 256)), alpha, max_bytes=150_000)
    out = Image.open(io.BytesIO(data))
    assert fmt == "webp" and out.mode == "RGBA" and len(data) <= 150_000
    assert abs(out.getchannel("A").getpixel((10, 250)) - alpha.getpixel((10, 250))) < 8


def test_encode_impossible_limit_is_a_bug():
    with pytest.raises(ValueError):
        encode_image(noise((16, 16)), max_bytes=10)


def test_encode_preview_is_small_jpeg():
    im = noise((1000, 500))
    data = encode_preview(im, 256)
    out = Image.open(io.BytesIO(data))
    assert out.format == "JPEG" and out.size == (256, 128) and im.size == (1000, 500)
