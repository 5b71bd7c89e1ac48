"""Animations in and out, Pillow only (no torch): read an animated upload frame by frame, and
write frames as they are dreamed into an animated WebP (or GIF, or MP4 with PyAV).

The WebP writer keeps each frame only as its compressed bitstream and muxes the container at
the end (the RIFF layout is small and documented: VP8X, ANIM, one ANMF per frame), so memory
holds the encoded file, never every frame's pixels. `fit` makes the file fit an upload limit:
lower quality first, then smaller frames, then fewer frames (at a lower frame rate), and says
what it reduced.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from PIL import Image, features

from dreamcore.errors import InvalidImage
from dreamcore.imaging import bombs_refused, check_frame_size
from dreamcore.video import read_frames as read_video_frames
from dreamcore.video import sniff as sniff_video

QUALITIES = (85, 70, 55, 40)
FORMAT_NAMES = {"webp": "an animated WebP", "gif": "a GIF", "mp4": "an MP4"}
# The longest frame each format can say (ms): GIF counts 16-bit centiseconds, WebP 24-bit ms;
# MP4 is kept to WebP's (its 32-bit sample durations count in ~1/16000 s).
LONGEST_FRAME_MS = {"gif": 655_350, "webp": 0xFFFFFF, "mp4": 0xFFFFFF}


def frame_ms(fmt: str, duration_ms: int) -> int:
    """A frame's display time as `fmt` can hold it (longer ones are shown as long as it can)."""
    return max(1, min(duration_ms, LONGEST_FRAME_MS[fmt]))


def webp_animation_supported() -> bool:
    """Pillow built with WebP (animation comes with it; older Pillows report `webp_anim`)."""
    if not features.check("webp"):
        return False
    try:
        return bool(features.check_feature("webp_anim"))
    except ValueError:  # Pillow 11+: no separate feature, animation is part of WebP
        return True


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FramePlan:
    """Which frames of an animated upload get dreamed."""

    total: int  # frames in the file
    indices: tuple[int, ...]  # the ones dreamed (all, or evenly sampled under the cap)
    duration_ms: int  # each output frame's display time (longer when frames were skipped)

    @property
    def sampled(self) -> bool:
        return len(self.indices) < self.total


def plan_frames(durations_ms: Sequence[int], keep: int) -> FramePlan:
    """`keep` frames of an animated upload to dream (how many: `dreamcore.frames.frames_made`),
    evenly sampled when it has more; `durations_ms` are its frames' display times (its
    `FrameTable`'s, read without decoding)."""
    total = len(durations_ms)
    indices = tuple(sorted({round(i * (total - 1) / max(1, keep - 1)) for i in range(keep)}))
    # the same length in all: a dropped frame's time goes to the frames kept
    return FramePlan(total, indices, max(20, round(sum(durations_ms) / len(indices))))


def read_frames(
    data: bytes, indices: tuple[int, ...], size: tuple[int, int], *, max_pixels: int
) -> Iterator[Image.Image]:
    """The chosen frames as RGB at `size`, decoded one at a time (composited as players show
    them: Pillow applies each frame's disposal and blending when seeking; a video's decoded by
    dreamcore/video.py).

    The frames between are passed one by one, each frame's canvas checked against
    `max_pixels` before it is decoded and Pillow's bomb warnings raised as errors: a file that
    the intake's checks missed is refused as they would have refused it, not decoded."""
    video = sniff_video(data)
    if video is not None:
        yield from read_video_frames(data, video, indices, size, max_pixels=max_pixels)
        return
    try:
        with Image.open(io.BytesIO(data)) as im:
            check_frame_size(im.size, max_pixels)
            for index in indices:
                with bombs_refused(max_pixels):  # not across the yield: only Pillow's work here
                    flat = _frame(im, index, max_pixels)
                yield flat.resize(size, Image.Resampling.LANCZOS) if flat.size != size else flat
    except InvalidImage:
        raise
    except (OSError, EOFError, ValueError, SyntaxError) as err:
        raise InvalidImage("A frame of that animation is damaged and can't be decoded.") from err


def _frame(im: Image.Image, index: int, max_pixels: int) -> Image.Image:
    """Frame `index` composited on black, seeking forward one frame at a time (a GIF's canvas
    grows at a seek, before the frame is decoded)."""
    if index < im.tell():
        im.seek(0)
    while im.tell() < index:
        im.seek(im.tell() + 1)
        check_frame_size(im.size, max_pixels)
    frame = im.convert("RGBA")
    flat = Image.new("RGB", frame.size, (0, 0, 0))
    flat.paste(frame, mask=frame.getchannel("A"))
    return flat


# --- writing ------------------------------------------------------------------------------------


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\0" if len(payload) % 2 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def _frame_chunks(webp: bytes) -> bytes:
    """The image chunks (ALPH, VP8, VP8L) of a single-frame WebP file."""
    out, pos = [], 12  # after "RIFF" size "WEBP"
    while pos + 8 <= len(webp):
        fourcc, size = webp[pos : pos + 4], struct.unpack("<I", webp[pos + 4 : pos + 8])[0]
        end = pos + 8 + size + (size % 2)
        if fourcc in (b"ALPH", b"VP8 ", b"VP8L"):
            out.append(webp[pos:end])
        pos = end
    return b"".join(out)


@dataclass
class WebPFrames:
    """Frames kept as WebP bitstreams, muxed into one animated WebP by `bytes()`."""

    quality: int = QUALITIES[0]
    frames: list[bytes] = field(default_factory=list)  # each a single-frame WebP file
    size: tuple[int, int] = (0, 0)

    def add(self, image: Image.Image) -> None:
        if not self.frames:
            self.size = image.size
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "WEBP", quality=self.quality, method=4)
        self.frames.append(buf.getvalue())

    def mux(self, duration_ms: int, loop: int = 0) -> bytes:
        w, h = self.size
        duration_ms = frame_ms("webp", duration_ms)
        vp8x = bytes([0x02, 0, 0, 0]) + _u24(w - 1) + _u24(h - 1)  # flags: animation
        anim = struct.pack("<IH", 0xFF000000, loop)  # background black, loop forever
        # x/2, y/2, width-1, height-1, duration (ms), flags: no blending, no disposal
        header = _u24(0) + _u24(0) + _u24(w - 1) + _u24(h - 1) + _u24(duration_ms) + b"\x02"
        chunks = [_chunk(b"VP8X", vp8x), _chunk(b"ANIM", anim)]
        chunks += [_chunk(b"ANMF", header + _frame_chunks(frame)) for frame in self.frames]
        body = b"".join(chunks)  # joined once: += would copy the growing file per frame
        return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def encode_animation(
    frames: list[bytes], size: tuple[int, int], fmt: str, duration_ms: int, quality: int
) -> bytes:
    """Encode frames (each a single-frame WebP) as an animation in `fmt`, one frame decoded
    at a time where the format allows (WebP, MP4)."""
    if fmt == "webp":
        out = WebPFrames(quality=quality, size=size)
        for data in frames:
            out.add(_decoded(data, size))
        return out.mux(duration_ms)
    if fmt == "gif":
        # Pillow's GIF writer wants every frame at once: paletted, a byte per pixel each.
        images = [_decoded(data, size).quantize(colors=256) for data in frames]
        buf = io.BytesIO()
        images[0].save(
            buf,
            "GIF",
            save_all=True,
            append_images=images[1:],
            duration=frame_ms("gif", duration_ms),
            loop=0,
            optimize=False,
        )
        return buf.getvalue()
    if fmt == "mp4":
        return _mp4(frames, size, duration_ms, quality)
    raise ValueError(f"unknown animation format {fmt!r}")


def _decoded(data: bytes, size: tuple[int, int]) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        frame = im.convert("RGB")
    return frame.resize(size, Image.Resampling.LANCZOS) if frame.size != size else frame


def _mp4(frames: list[bytes], size: tuple[int, int], duration_ms: int, quality: int) -> bytes:
    import av  # the optional `video` extra
    import numpy as np

    w, h = size[0] // 2 * 2, size[1] // 2 * 2  # yuv420p wants even sides
    duration_ms = frame_ms("mp4", duration_ms)
    ms = Fraction(1, 1000)  # frames stamped in milliseconds: a whole-number fps can't say 150 ms
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(1000, duration_ms))
        stream.codec_context.time_base = ms
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(round(18 + (85 - quality) * 0.5))}  # lower quality, higher crf
        for index, data in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.asarray(_decoded(data, (w, h))), format="rgb24")
            frame.pts, frame.time_base = index * duration_ms, ms
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


@dataclass(frozen=True)
class Fitted:
    data: bytes
    format: str
    width: int
    height: int
    frames: int
    notes: tuple[str, ...]


def fit(
    store: WebPFrames,
    fmt: str,
    duration_ms: int,
    max_bytes: int | None,
    fallback: str | None = None,
) -> Fitted:
    """The animation within `max_bytes`: quality first, then `fallback` (another format, e.g.
    MP4, at each size before the frames shrink), then size, then frame count. A WebP that fits
    as dreamed is muxed from the frames as they are (nothing re-encoded)."""
    notes: dict[str, str] = {}  # what was reduced -> how far (the last word counts)
    (width, height), kept, duration = store.size, store.frames, duration_ms
    if fmt == "webp":
        data = store.mux(duration)
        if max_bytes is None or len(data) <= max_bytes:
            return Fitted(data, fmt, width, height, len(kept), ())
    formats = (fmt, fallback) if fallback and fallback != fmt else (fmt,)
    while True:
        for out in formats:
            # GIF has no quality setting: a second try at the same size would be the same file
            for quality in QUALITIES[:1] if out == "gif" else QUALITIES:
                if out == "webp" and quality >= store.quality and (width, height) == store.size:
                    continue  # tried above, as dreamed
                data = encode_animation(kept, (width, height), out, duration, quality)
                if max_bytes is None or len(data) <= max_bytes:
                    if quality != QUALITIES[0]:
                        notes["quality"] = f"quality lowered to {quality} to fit the upload limit"
                    if out != fmt:
                        notes["format"] = (
                            f"sent as {out.upper()}: as {FORMAT_NAMES[fmt]} it was over the "
                            "upload limit"
                        )
                    w, h = (width // 2 * 2, height // 2 * 2) if out == "mp4" else (width, height)
                    return Fitted(data, out, w, h, len(kept), tuple(notes.values()))
        if min(width, height) > 96:
            width, height = max(1, round(width * 0.75)), max(1, round(height * 0.75))
            notes["size"] = f"frames shrunk to {width}x{height} to fit the upload limit"
        elif len(kept) > 2:
            kept, duration = kept[::2], duration * 2
            notes["frames"] = f"frames thinned to {len(kept)} to fit the upload limit"
        else:
            raise InvalidImage("The animation can't be made small enough for the upload limit.")
