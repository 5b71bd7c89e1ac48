"""Decode untrusted image bytes safely and encode results to fit an upload limit (Pillow only).

Used by the bot's intake (to refuse bad images before they cost quota) and by the engine's
workers. No torch, no asyncio. Pillow's process-wide settings (MAX_IMAGE_PIXELS,
LOAD_TRUNCATED_IMAGES) are read, never changed: other code in the process shares them.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from dreamcore.config import EngineConfig
from dreamcore.errors import InvalidImage
from dreamcore.frametable import FrameTable, frame_table
from dreamcore.video import sniff as sniff_video

# The formats we decode (Pillow knows many more; EPS would even run Ghostscript: refused), with
# their file extensions, the first being what we write. The one list: intake, cli, replies use it.
IMAGE_FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jfif"),
    "MPO": (".mpo",),  # JPEG stereo pairs (phones): the first image is used
    "GIF": (".gif",),
    "WEBP": (".webp",),
    "BMP": (".bmp",),
    "TIFF": (".tif", ".tiff"),
    "AVIF": (".avif",),
}
# Videos (dreamcore/video.py, with PyAV): recognised by their bytes, as `video.sniff` names them.
VIDEO_FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "MP4": (".mp4", ".m4v"),
    "MOV": (".mov",),
    "WEBM": (".webm",),
}
FORMAT_EXTENSIONS = {**IMAGE_FORMAT_EXTENSIONS, **VIDEO_FORMAT_EXTENSIONS}
SUPPORTED_FORMATS = tuple(IMAGE_FORMAT_EXTENSIONS)  # what Pillow is allowed to open
IMAGE_EXTENSIONS = frozenset(ext for exts in IMAGE_FORMAT_EXTENSIONS.values() for ext in exts)
VIDEO_EXTENSIONS = frozenset(ext for exts in VIDEO_FORMAT_EXTENSIONS.values() for ext in exts)
FRIENDLY_FORMATS = "PNG, JPEG, GIF, WebP, BMP or TIFF"

_QUALITIES = (95, 90, 80, 70, 60)
# zlib level of a result's PNG. Measured here on a 512x384 photo: level 6 (Pillow's default)
# 68 ms and 268 KB, level 3 24 ms and 276 KB, level 1 18 ms and 286 KB: 3 is 2.8x faster for 3%
# more bytes, and a GPU worker encodes every dream it serves on the CPU.
_PNG_LEVEL = 3
_DOWNSCALE = 0.75

ORIENTATION_TAG = 0x0112  # EXIF Orientation; 5..8 turn the picture by 90 degrees
GUIDE_SIDE = 512  # a guide's long side when its features are taken (bounded work per step)


def file_extension(fmt: str) -> str:
    """`jpeg` -> `jpg`, `png` -> `png`: the extension to write a format with (no dot)."""
    return FORMAT_EXTENSIONS[fmt.upper()][0].removeprefix(".")


def format_of_extension(suffix: str) -> str | None:
    """`.JPG` -> `JPEG`; None for an extension of no image format we write."""
    suffix = suffix.lower()
    return next((fmt for fmt, exts in IMAGE_FORMAT_EXTENSIONS.items() if suffix in exts), None)


@dataclass(frozen=True)
class DecodedImage:
    rgb: Image.Image  # mode "RGB"
    alpha: Image.Image | None  # mode "L", same size as rgb, when the input had transparency
    format: str  # what the bytes really were ("PNG", "JPEG", "GIF", "WEBP", ...)
    animated: bool
    notes: tuple[str, ...]  # short user-facing notes
    table: FrameTable | None = None  # an animation's frames (timing, canvases); None: a still

    @property
    def frames(self) -> int:
        return self.table.frames if self.table is not None else 1


def decode_for_dream(data: bytes, engine: EngineConfig, max_side: int) -> DecodedImage:
    """Decode with the engine's limits, at the size the dream will have (the bot checks an
    upload with exactly what the worker will later do)."""
    return decode_image(
        data,
        max_side=min(max_side, engine.max_side_cap),
        max_pixels=engine.max_input_pixels,
        min_side=engine.min_side,
        max_animation_pixels=engine.max_input_animation_pixels,
        max_video_seconds=engine.max_video_seconds,
    )


def decode_guide(data: bytes, engine: EngineConfig) -> DecodedImage:
    """Decode a guide image at the size its features are taken: refused, like an input, when
    its short side would then be under `engine.min_side`, the least the networks can take (a
    2048x40 guide would be 512x10, too thin for their deepest layers)."""
    return decode_image(
        data,
        max_side=min(GUIDE_SIDE, engine.max_side_cap),
        max_pixels=engine.max_input_pixels,
        min_side=engine.min_side,
        max_animation_pixels=engine.max_input_animation_pixels,
        max_video_seconds=engine.max_video_seconds,
        purpose="guide a dream",
    )


def decode_image(
    data: bytes,
    *,
    max_side: int,
    max_pixels: int,
    min_side: int,
    max_animation_pixels: int | None = None,
    max_video_seconds: float = 60.0,
    purpose: str = "dream",
) -> DecodedImage:
    """Decode untrusted bytes into RGB (+ alpha), refusing bombs, junk and tiny images.

    An animation (or multi-page file) is checked frame by frame from its container before any
    frame is decoded: every frame's canvas under `max_pixels`, all frames' canvases together
    under `max_animation_pixels` (what decoding them costs). Only the first frame is decoded.
    A video (MP4, MOV, WebM: known by its bytes) is an animation of its first
    `max_video_seconds` at most, fewer when its frames would cost more (dreamcore/video.py).
    Raises InvalidImage with a message meant for the person who sent the image.
    """
    if not data:
        raise InvalidImage("The file is empty (0 bytes); please attach an image.")
    video = sniff_video(data)
    if video is not None:
        return _decode_video(
            data,
            video,
            max_side=max_side,
            max_pixels=max_pixels,
            min_side=min_side,
            max_animation_pixels=max_animation_pixels,
            max_seconds=max_video_seconds,
            purpose=purpose,
        )
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone changed the global: cut-off files would pass
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    try:
        with bombs_refused(max_pixels), Image.open(io.BytesIO(data)) as im:
            return _decode_opened(
                im,
                data,
                max_side=max_side,
                max_pixels=max_pixels,
                min_side=min_side,
                max_animation_pixels=max_animation_pixels,
                purpose=purpose,
            )
    except InvalidImage:
        raise
    except UnidentifiedImageError:
        raise InvalidImage(
            f"That file isn't an image I can read; please send a {FRIENDLY_FORMATS} image."
        ) from None
    except Exception:  # noqa: BLE001 - Pillow's plugins raise many types on damaged or cut-off input
        raise InvalidImage(
            "The image data is damaged or cut off (truncated) and can't be decoded; "
            "try uploading it again."
        ) from None


@contextmanager
def bombs_refused(max_pixels: int) -> Iterator[None]:
    """Pillow's decompression-bomb warnings as errors (here only, not for the rest of the
    process), and any bomb, or running out of memory, as one clear refusal for the user."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError:
        raise InvalidImage(_bomb_message(2 * (Image.MAX_IMAGE_PIXELS or 0), max_pixels)) from None
    except Image.DecompressionBombWarning:
        raise InvalidImage(_bomb_message(Image.MAX_IMAGE_PIXELS or 0, max_pixels)) from None
    except MemoryError:
        raise InvalidImage("That image is too large to decode.") from None


def check_frame_size(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse a frame whose canvas is over `max_pixels` (before it is decoded)."""
    w, h = size
    if w * h > max_pixels:
        raise InvalidImage(
            f"That animation is too large: a frame of it is drawn on {w}x{h} pixels, "
            f"the limit is {max_pixels:,} pixels."
        )


def _check_frames(table: FrameTable, max_pixels: int, max_animation_pixels: int | None) -> None:
    check_frame_size(table.largest, max_pixels)
    if max_animation_pixels is not None and table.decoded_pixels > max_animation_pixels:
        w, h = table.largest
        of = "of" if len(set(table.canvases)) == 1 else "of up to"
        raise InvalidImage(
            f"That animation is too large to decode: {table.frames:,} frames {of} {w}x{h} "
            f"pixels, the limit is {max_animation_pixels:,} pixels in all "
            "(frames x width x height)."
        )


def _decode_opened(
    im: Image.Image,
    data: bytes,
    *,
    max_side: int,
    max_pixels: int,
    min_side: int,
    max_animation_pixels: int | None,
    purpose: str,
) -> DecodedImage:
    fmt = im.format or "unknown"
    if fmt not in SUPPORTED_FORMATS:
        raise InvalidImage(
            f"{fmt} images aren't supported; please send a {FRIENDLY_FORMATS} image."
        )
    w, h = im.size  # from the header: nothing decoded yet
    if w * h > max_pixels:
        raise InvalidImage(
            f"That image is too large: {w}x{h} pixels, the limit is {max_pixels:,} pixels."
        )

    target = _fit(w, h, max_side)  # in stored orientation; rotation doesn't change the sides
    if min(target) < min_side:
        raise InvalidImage(
            f"That image is too small to {purpose}: {w}x{h} pixels; each side must be at least "
            f"{min_side} px after fitting into {max_side} px."
        )

    animated = bool(getattr(im, "is_animated", False)) and fmt != "MPO"  # MPO: stereo pair
    notes: list[str] = []
    table = None
    if animated:  # every frame checked from the container; only the first is decoded here
        table = frame_table(data, im)
        _check_frames(table, max_pixels, max_animation_pixels)
        im.seek(0)  # checks and stills use the first frame; animations read every frame later
    if fmt == "JPEG" and target != (w, h):
        im.draft(None, target)  # libjpeg decodes at a reduced scale (still >= target): cheaper
    im.load()  # decode every pixel now, inside the caller's try, so damage is caught here

    # Read EXIF only after load(): for PNG, getexif() itself loads pixels (eXIf may follow IDAT).
    orientation = _orientation(im)
    if orientation in (5, 6, 7, 8):  # turned by 90 degrees: width and height swap
        w, h, target = h, w, target[::-1]
    if orientation != 1:
        im = _upright(im)
    rgb, alpha = _to_rgb_alpha(im)
    if rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS)
        alpha = alpha.resize(target, Image.Resampling.LANCZOS) if alpha is not None else None
        notes.append(f"downscaled from {w}x{h} to {target[0]}x{target[1]}")
    return DecodedImage(rgb, alpha, fmt, animated, tuple(notes), table)


def _decode_video(
    data: bytes,
    fmt: str,
    *,
    max_side: int,
    max_pixels: int,
    min_side: int,
    max_animation_pixels: int | None,
    max_seconds: float,
    purpose: str,
) -> DecodedImage:
    """A video as an animation: its frames read from the container, only the first decoded."""
    from dreamcore import video

    clip = video.probe(
        data,
        fmt,
        max_pixels=max_pixels,
        max_animation_pixels=max_animation_pixels,
        max_seconds=max_seconds,
    )
    first = video.first_frame(data, fmt, max_pixels=max_pixels)  # upright: sides maybe swapped
    w, h = first.size
    target = _fit(w, h, max_side)
    if min(target) < min_side:
        raise InvalidImage(
            f"That video is too small to {purpose}: {w}x{h} pixels; each side must be at least "
            f"{min_side} px after fitting into {max_side} px."
        )
    notes = list(clip.notes)
    if first.size != target:
        first = first.resize(target, Image.Resampling.LANCZOS)
        notes.append(f"downscaled from {w}x{h} to {target[0]}x{target[1]}")
    animated = clip.table.frames > 1
    return DecodedImage(first, None, fmt, animated, tuple(notes), clip.table if animated else None)


def _bomb_message(over: int, max_pixels: int) -> str:
    size = f"more than {over:,} pixels" if over else "more pixels than allowed"
    return f"That image is too large: {size}, the limit is {max_pixels:,} pixels."


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - broken EXIF is common; it must not make the image unusable
        return 1


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (before any mode conversion, so alpha turns with the colours)."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - broken EXIF: keep the image as stored rather than refuse it
        return im


def _fit(w: int, h: int, max_side: int) -> tuple[int, int]:
    if max(w, h) <= max_side:
        return w, h
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _to_rgb_alpha(im: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Any Pillow mode -> ("RGB" image, "L" alpha or None). Opaque alpha is dropped."""
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        return _high_bit_depth_to_l(im).convert("RGB"), None
    if mode == "CMYK":
        # Pillow reads Adobe (inverted) CMYK JPEGs with the CMYK;I rawmode, so this is right.
        return im.convert("RGB"), None
    has_alpha = "A" in mode or "a" in mode or "transparency" in im.info
    if mode == "P" and im.palette is not None and im.palette.mode == "RGBA":
        has_alpha = True
    if not has_alpha:
        return im.convert("RGB"), None
    rgba = im.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema() == (255, 255):  # "transparency" that hides nothing
        return rgba.convert("RGB"), None
    return rgba.convert("RGB"), alpha


def _high_bit_depth_to_l(im: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale -> 8-bit L, scaled (not clipped) to 0..255."""
    if im.mode.startswith("I;16"):
        lo, hi = 0.0, 65535.0  # the format's nominal range, so dark images stay dark
        im = im.convert("I")
    else:
        # Pillow types extrema for any band count; a one-band image's are two numbers
        lo, hi = (float(v) for v in im.getextrema())  # type: ignore[arg-type]
        if im.mode == "F" and lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        elif lo >= 0 and hi <= 255:
            lo, hi = 0.0, 255.0
        elif lo >= 0 and hi <= 65535:
            lo, hi = 0.0, 65535.0
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    f = im.convert("F").point(lambda v: (v - lo) * scale + 0.5)  # linear: evaluated in C
    return f.convert("L")


def encode_image(
    rgb: Image.Image, alpha: Image.Image | None = None, *, max_bytes: int | None = None
) -> tuple[bytes, str]:
    """Encode to PNG if it fits, else WebP/JPEG at falling quality, else downscale and retry.

    Returns (data, "png" | "webp" | "jpeg"); never more than max_bytes.
    """
    rgb = rgb.convert("RGB") if rgb.mode != "RGB" else rgb
    full = rgb.copy()
    if alpha is not None:
        full.putalpha(
            alpha.convert("L").resize(rgb.size) if alpha.size != rgb.size else alpha.convert("L")
        )
    first = True
    while True:
        for data, fmt in _candidates(full, rgb, first=first):
            if max_bytes is None or len(data) <= max_bytes:
                return data, fmt
        w, h = rgb.size
        if w == 1 and h == 1:
            raise ValueError(f"cannot encode even a 1x1 image in {max_bytes} bytes")
        size = (max(1, int(w * _DOWNSCALE)), max(1, int(h * _DOWNSCALE)))
        full = full.resize(size, Image.Resampling.LANCZOS)
        rgb = full.convert("RGB")
        first = False


def _candidates(full: Image.Image, rgb: Image.Image, *, first: bool):
    """Encodings from best to smallest, lazily (each one costs CPU time)."""
    yield _save(full, "PNG", compress_level=_PNG_LEVEL), "png"
    # After a downscale only the smallest settings are worth trying: size is what binds.
    qualities = _QUALITIES if first else _QUALITIES[-1:]
    if max(full.size) <= 16383:  # WebP's hard limit
        for q in qualities:
            yield _save(full, "WEBP", quality=q), "webp"
    if max(rgb.size) <= 65500:  # JPEG's hard limit
        for q in qualities:
            yield _save(rgb, "JPEG", quality=q, optimize=True), "jpeg"


def _save(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def encode_preview(rgb: Image.Image, side: int) -> bytes:
    """A small JPEG (long side <= side) for progress messages."""
    im = rgb.convert("RGB")  # convert copies, so thumbnail() leaves the caller's image alone
    im.thumbnail((side, side), Image.Resampling.BILINEAR)
    return encode_jpeg(im, quality=75)


def encode_jpeg(rgb: Image.Image, quality: int = 90) -> bytes:
    return _save(rgb.convert("RGB"), "JPEG", quality=quality)
