"""Videos in (MP4, MOV, WebM), read like animated GIFs: recognised by their bytes, their frames
counted and timed from the container's packets before a pixel is decoded, then decoded one at a
time, each frame dropped once it is used. Audio is never read.

PyAV (the optional `video` extra) is imported only here and only when a video arrives: without
it, a video gets one line saying video support isn't installed.

What a video may cost is bounded before decoding, as for GIFs (dreamcore/frametable.py): a frame
over `max_pixels` is refused (the decoder itself is told the limit, so a stream that grows its
frames mid-way is refused too); only the first `max_seconds` are read, at most `MAX_RATE` frames
a second, and no more frames than `max_animation_pixels` pays for (frames x width x height):
beyond that, the video is cut and the user told. Decoding stops at the last frame wanted, however
many frames the file says or really has. A long video is therefore sampled, not refused: what
FFmpeg reads of it before that (an MP4's index of every frame) is no bigger than the download
cap lets the file be, and the packets after the cut are never read.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from dreamcore.errors import InvalidImage
from dreamcore.frametable import DEFAULT_DURATION_MS, FrameTable

# Container formats, as `sniff` names them -> the FFmpeg demuxer that reads them (no other is
# ever tried: FFmpeg would otherwise probe the bytes against every format it knows).
DEMUXERS = {"MP4": "mov", "MOV": "mov", "WEBM": "matroska"}
# The codecs people share videos in; anything else in those containers is refused, unread.
CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mjpeg"})
MAX_RATE = 60  # frames a second read at most: a faster (or lying) video is read for less time
DECODER_SLACK = 64  # packets a decoder may hold back (reordering, frame threads) before output

# ISO base media files that are pictures, not videos (Pillow's, or refused as images are)
_IMAGE_BRANDS = frozenset(
    {b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
)
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"pnot"})  # MOV before ftyp
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM

NOT_INSTALLED = (
    "Video support isn't installed on this bot, so it can't dream videos "
    "(the operator can add it with `pip install 'dreambot[video]'`)."
)
DAMAGED = "That video is damaged or cut off and can't be decoded; try uploading it again."


def sniff(data: bytes) -> str | None:
    """`MP4`, `MOV` or `WEBM` when `data` starts like one of those containers, else None. By the
    bytes alone: an upload's name and declared type say nothing (Discord, Tenor and GIPHY serve
    GIFs as MP4s)."""
    head = data[:12]
    if head[:4] == _EBML:
        return "WEBM"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        return "MOV" if brand == b"qt  " else "MP4"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "MOV"
    return None


def supported() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Clip:
    """What a video's container says, read without decoding a pixel."""

    format: str
    size: tuple[int, int]  # a frame's width and height as stored (before any rotation)
    table: FrameTable  # the frames that will be read: every one, or those of the first part
    seconds: float | None  # the whole video's length, when the container says it
    cut: str | None  # why only the first part is read (the user is told), None: all of it

    @property
    def notes(self) -> tuple[str, ...]:
        if self.cut is None:
            return ()
        read = sum(self.table.durations_ms) / 1000
        # a container may say less than was read: then it isn't quoted
        said = self.seconds or 0.0
        of = f"the {_clock(said)} video" if said > read else "the video"
        return (f"dreamed the first {_clock(read)} of {of} ({self.cut})",)


def probe(
    data: bytes, fmt: str, *, max_pixels: int, max_animation_pixels: int | None, max_seconds: float
) -> Clip:
    """The frames of the video in `data` that will be read, with their display times, from its
    packets' timestamps (no frame decoded): refused in one line when a frame would be over
    `max_pixels`, or when it holds no video or isn't the container it starts like."""
    with _opened(data, fmt) as (container, stream):
        w, h = stream.codec_context.width, stream.codec_context.height
        if w <= 0 or h <= 0:
            raise InvalidImage(DAMAGED)
        if w * h > max_pixels:
            raise InvalidImage(
                f"That video is too large: {w}x{h} pixels a frame, "
                f"the limit is {max_pixels:,} pixels."
            )
        by_rate = math.ceil(max_seconds * MAX_RATE)
        by_pixels = (max_animation_pixels or w * h * by_rate) // (w * h)
        cap = min(by_rate, by_pixels)
        if cap < 1:
            raise InvalidImage(
                f"That video is too large to decode: {w}x{h} pixels a frame, the limit is "
                f"{max_animation_pixels:,} pixels in all."
            )
        starts: list[float] = []
        last_ms, cut, origin = DEFAULT_DURATION_MS, None, None
        for packet in container.demux(stream):  # in decoding order: pts may go back, dts not
            if packet.size == 0:  # the end
                continue
            if len(starts) == cap:
                by_size = f"the most this bot decodes at {w}x{h}"
                cut = f"the limit is {cap:,} frames" if cap == by_rate else by_size
                break
            pts = _seconds(packet.pts, packet)
            pts = pts if pts is not None else len(starts) * DEFAULT_DURATION_MS / 1000
            origin = pts if origin is None else min(origin, pts)
            dts = _seconds(packet.dts, packet)
            if dts is not None and dts >= origin + max_seconds:  # no later packet is shown sooner
                cut = f"the limit is {max_seconds:g} s"
                break
            starts.append(pts)
            last_ms = _ms(_seconds(packet.duration, packet)) or last_ms
        starts = sorted(t for t in starts if origin is None or t < origin + max_seconds)
        if not starts:
            raise InvalidImage(DAMAGED)
        seconds = container.duration / 1_000_000 if container.duration else None
    gaps = itertools.pairwise(starts)  # display order
    durations = [_ms(b - a) or DEFAULT_DURATION_MS for a, b in gaps]
    table = FrameTable((*durations, last_ms), ((w, h),) * len(starts))
    return Clip(fmt, (w, h), table, seconds, cut)


def read_frames(
    data: bytes,
    fmt: str,
    indices: tuple[int, ...],
    size: tuple[int, int] | None,
    *,
    max_pixels: int,
) -> Iterator[Image.Image]:
    """The frames at `indices` (in display order, counted from 0) as upright RGB at `size`
    (None: as decoded), one at a time. The decoder refuses any frame over `max_pixels`; it is
    stopped once the last frame wanted is out, and never fed more packets than that needs (a
    file that has more frames than its container says costs no more)."""
    if not indices:
        return
    wanted, last = set(indices), max(indices)
    with _opened(data, fmt) as (container, stream):
        stream.codec_context.options = {"max_pixels": str(max_pixels)}  # per frame, any frame
        for index, frame in enumerate(_decoded(container, stream, last + 1 + DECODER_SLACK)):
            if index in wanted:
                image = frame.to_image()  # RGB
                if frame.rotation:  # a phone's portrait video: stored sideways, shown upright
                    image = image.rotate(frame.rotation, expand=True)
                if size is not None and image.size != size:
                    image = image.resize(size, Image.Resampling.LANCZOS)
                yield image
            if index == last:
                return


def first_frame(data: bytes, fmt: str, *, max_pixels: int) -> Image.Image:
    """Frame 0, upright (a video with no decodable frame is refused)."""
    for image in read_frames(data, fmt, (0,), None, max_pixels=max_pixels):
        return image
    raise InvalidImage(DAMAGED)


def _decoded(container, stream, packets: int):
    """Frames in display order, from at most `packets` packets (then the decoder is drained)."""
    fed = 0
    for packet in container.demux(stream):
        if packet.size:
            fed += 1
            if fed > packets:
                break
        yield from packet.decode()  # the last (empty) packet drains the decoder
    else:
        return
    yield from stream.codec_context.decode(None)


@contextmanager
def _opened(data: bytes, fmt: str):
    """The container and its first video stream, every FFmpeg failure inside (opening,
    demuxing, decoding) refused as a damaged video."""
    try:
        import av
    except ImportError:
        raise InvalidImage(NOT_INSTALLED) from None
    try:
        with av.open(io.BytesIO(data), format=DEMUXERS[fmt]) as container:
            if not container.streams.video:
                if container.streams.audio:
                    raise InvalidImage("That file has sound but no picture; send a video.")
                raise InvalidImage(DAMAGED)
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in CODECS:
                raise InvalidImage(
                    f"That video's codec ({codec}) isn't supported; send an H.264, HEVC, VP8, "
                    "VP9 or AV1 video."
                )
            yield container, stream
    except InvalidImage:
        raise
    except MemoryError:
        raise InvalidImage("That video is too large to decode.") from None
    except (av.FFmpegError, ValueError, OSError, EOFError):
        raise InvalidImage(DAMAGED) from None


def _seconds(ticks: int | None, packet) -> float | None:
    if ticks is None or packet.time_base is None:
        return None
    return float(ticks * packet.time_base)


def _ms(seconds: float | None) -> int:
    return max(0, round(seconds * 1000)) if seconds is not None else 0


def _clock(seconds: float) -> str:
    """12.5 s, 1:05, 1:02:03."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
