"""A dream's answer planned against the upload limit as a whole: the dream and the files beside it.

Discord refuses (413) a message whose files together pass the limit, so they are planned as one.
The dream comes first: the worker fits it to `dream_budget` (the limit less a bounded room for
the rest). Its source and guide then go in what is left, as they are when they fit, else each
shrunk to its share, else left out (Re-roll then dreams the result, and the reply says so).

A 413 despite the plan means the real limit is lower than the bot was told (a reaction only
knows the server's): `limit_after_refusal` says what to plan for next. Pillow only: run
`plan_upload` in a thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from dreamcore.errors import DreamError
from dreamcore.imaging import decode_image, encode_image, file_extension

Named = tuple[str, bytes]  # a file of the answer: (filename, data)
EXTRAS_SHARE = 4  # before the dream exists, the files beside it keep at most 1/4 of the limit
MIN_DREAM_BYTES = 8 * 1024  # a limit below this (after refusals): give up, don't send mush
MIN_EXTRA_BYTES = 2 * 1024  # a source or guide squeezed below this isn't worth attaching
MIN_EXTRA_SIDE = 64  # ... nor one whose short side shrank below this (Re-roll dreams it)
DECODE_SIDE, DECODE_PIXELS = 16384, 10**9  # the bot's own files, already checked at intake


@dataclass(frozen=True)
class UploadPlan:
    dream: Named
    extras: tuple[Named, ...] = ()
    left_out: tuple[str, ...] = ()  # the extras that did not fit, by their planned name

    @property
    def size(self) -> int:
        return len(self.dream[1]) + size_of(self.extras)

    def extra_named(self, prefix: str) -> str | None:
        """The name of the extra that starts with `prefix` (`source.`), if it is attached."""
        return next((name for name, _ in self.extras if name.startswith(prefix)), None)


def size_of(files: Sequence[Named]) -> int:
    return sum(len(data) for _, data in files)


def dream_budget(limit: int, extras: Sequence[Named]) -> int:
    """The bytes the dream may take: the limit less the room kept for the files beside it
    (their size, but never more than a quarter of the limit: the dream comes first)."""
    return limit - min(size_of(extras), limit // EXTRAS_SHARE)


def plan_upload(
    dream: Named, extras: Sequence[Named], limit: int, *, reencodable: bool
) -> UploadPlan | None:
    """The dream as it is when it fits the limit (re-encoded to its budget when a still does
    not), then the extras in what is left; None when the dream alone can't fit (an animation
    over the limit: it was fitted by the worker and is not re-encoded here)."""
    name, data = dream
    if len(data) > limit:
        if not reencodable:
            return None
        data, fmt = reencode(data, dream_budget(limit, extras))
        name = renamed(name, fmt)
    kept, left_out = fit_extras(extras, limit - len(data))
    return UploadPlan((name, data), kept, left_out)


def fit_extras(extras: Sequence[Named], room: int) -> tuple[tuple[Named, ...], tuple[str, ...]]:
    """All extras as they are when they fit in `room`; else each, in order, shrunk to its share
    of what is left (by size), or left out when even that fails (its share goes to the next)."""
    if size_of(extras) <= room:
        return tuple(extras), ()
    kept: list[Named] = []
    left_out: list[str] = []
    waiting = size_of(extras)
    for name, data in extras:
        share = room * len(data) // waiting if waiting else 0
        waiting -= len(data)
        fitted = (name, data) if len(data) <= share else shrink(name, data, share)
        if fitted is None:
            left_out.append(name)
            continue
        kept.append(fitted)
        room -= len(fitted[1])
    return tuple(kept), tuple(left_out)


def shrink(name: str, data: bytes, max_bytes: int) -> Named | None:
    """The image re-encoded (quality, then size) to `max_bytes`, named for its new format; None
    when it would come out too small to be of use, or can't be read back."""
    if max_bytes < MIN_EXTRA_BYTES:
        return None
    try:
        out, fmt = reencode(data, max_bytes)
    except (DreamError, ValueError):
        return None
    with Image.open(io.BytesIO(out)) as im:
        if min(im.size) < MIN_EXTRA_SIDE:
            return None
    return renamed(name, fmt), out


def reencode(data: bytes, max_bytes: int) -> tuple[bytes, str]:
    """An image of the bot's own re-encoded to fit `max_bytes` (an animation: its first frame)."""
    decoded = decode_image(data, max_side=DECODE_SIDE, max_pixels=DECODE_PIXELS, min_side=1)
    return encode_image(decoded.rgb, decoded.alpha, max_bytes=max_bytes)


def renamed(name: str, fmt: str) -> str:
    """`dream.png` in WebP is `dream.webp` (the name before the dot is what buttons look for)."""
    stem = name.rpartition(".")[0] or name
    return f"{stem}.{file_extension(fmt)}"


def limit_after_refusal(refused: UploadPlan, *, reencodable: bool) -> int | None:
    """Discord refused `refused` although it fit the limit the bot knew: plan next for half its
    size (a still is re-encoded), or for the dream alone (an animation can't shrink here);
    None when nothing smaller is left to try."""
    if reencodable:
        half = refused.size // 2
        return half if half >= MIN_DREAM_BYTES else None
    alone = len(refused.dream[1])
    return alone if alone < refused.size else None
