"""Getting an image out of Discord safely: pick the attachment, download it with hard caps, and
check that it decodes at the size it will be dreamed at, before it costs any quota.

`Intake` owns the HTTP session and three bounds: downloads at once per user, decodes at once
(a large image needs hundreds of MB to decode), and the bytes that accepted orders hold while
they wait for a worker. Decoding itself (bombs, junk, sizes) is `dreamcore.imaging`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import aiohttp
from yarl import URL

from bot import replies
from bot.errors import Busy, DownloadFailed, NoImageFound
from bot.replies import SOURCE_NAME, SOURCE_PREFIX
from bot.settings import IntakeConfig
from dreamcore.config import EngineConfig
from dreamcore.imaging import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    decode_for_dream,
    decode_guide,
    encode_jpeg,
    file_extension,
)

DECODES_AT_ONCE = 2
SOURCE_QUALITY = 90
SOURCE_ANIMATION_BYTES = 2 * 1024 * 1024  # an animated upload up to this travels whole
NOT_RASTER = frozenset({"image/svg+xml"})  # image/* that Pillow can't dream
VIDEO_TYPES = frozenset({"video/mp4", "video/webm", "video/quicktime", "video/x-m4v"})
WHAT_TO_SEND = "attach a PNG, JPEG, GIF or WebP image, or an MP4, WebM or MOV video"
MAX_REDIRECTS = 3
CHUNK = 64 * 1024


def pick_image_attachments(
    attachments: Sequence[Any], limit: int = 1, what: str = "That file"
) -> list[Any]:
    """The attachments that look like images or videos (by their declared type or extension;
    what they really are is read from their bytes when they are decoded), the first `limit` of
    them; NoImageFound when there is none."""
    images = [att for att in attachments if _looks_like_an_image(att)][:limit]
    if images:
        return images
    if len(attachments) == 1:
        raise NoImageFound(f"{what} isn't an image; {WHAT_TO_SEND}.")
    if attachments:
        raise NoImageFound(f"None of those attachments is an image; {WHAT_TO_SEND}.")
    raise NoImageFound(f"I couldn't find an image there; {WHAT_TO_SEND}.")


def pick_image_attachment(attachments: Sequence[Any], what: str = "That file") -> Any:
    """The first attachment that looks like an image."""
    return pick_image_attachments(attachments, 1, what)[0]


def _looks_like_an_image(att: Any) -> bool:
    content_type = (getattr(att, "content_type", None) or "").split(";")[0].strip().lower()
    if content_type in NOT_RASTER:
        return False
    suffix = PurePosixPath(getattr(att, "filename", "") or "").suffix.lower()
    return (
        content_type.startswith("image/")
        or content_type in VIDEO_TYPES
        or suffix in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    )


class HeldImage:
    """An image an order holds until its job ends; its bytes count against the bot's budget.

    `data` is what was uploaded; `source` what is posted beside the dream (the "before", and
    what Re-roll dreams again): the picture as a JPEG at the size it will be dreamed at, or an
    animation as uploaded when it is small enough to travel."""

    def __init__(
        self,
        data: bytes,
        source: bytes,
        *,
        size: tuple[int, int] = (0, 0),
        frames: int = 1,
        source_name: str = SOURCE_NAME,
    ) -> None:
        self.source_name = source_name
        self.data = data
        self.source = source
        self.size = size  # (w, h) at the size it will be dreamed
        self.frames = frames  # > 1: an animated upload
        self._budget: ByteBudget | None = None

    @property
    def nbytes(self) -> int:
        return len(self.data) + len(self.source)

    def count_against(self, budget: ByteBudget) -> None:
        """Hold this image's bytes in `budget` (Busy if it is full) until `release`."""
        budget.take(self.nbytes)
        self._budget = budget

    def release(self) -> None:
        if self._budget is not None:
            self._budget.give_back(self.nbytes)
            self._budget = None


class ByteBudget:
    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0

    def take(self, n: int) -> None:
        if self.held + n > self.limit:
            raise Busy(replies.bot_busy_text())
        self.held += n

    def give_back(self, n: int) -> None:
        self.held = max(0, self.held - n)


class Intake:
    def __init__(self, config: IntakeConfig, engine: EngineConfig) -> None:
        self.config = config
        self.engine = engine
        self.budget = ByteBudget(config.max_held_bytes)
        self._session: aiohttp.ClientSession | None = None
        self._decodes = asyncio.Semaphore(DECODES_AT_ONCE)
        self._downloading: Counter[int] = Counter()  # user id -> downloads in progress

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def fetch(
        self,
        url: str,
        *,
        user_id: int,
        max_side: int,
        declared_size: int | None = None,
        guide: bool = False,
    ) -> HeldImage:
        """Download an attachment and check it decodes at `max_side` (a `guide`: as the worker
        takes a guide's features); raises a DreamError."""
        if self._downloading[user_id] >= self.config.downloads_per_user:
            raise Busy(replies.downloads_busy_text())
        assert self._session is not None, "Intake.open() first"
        self._downloading[user_id] += 1
        try:
            data = await download_attachment(
                self._session, url, config=self.config, declared_size=declared_size
            )
            async with self._decodes:
                held = await asyncio.to_thread(_checked, data, self.engine, max_side, guide)
        finally:
            self._downloading[user_id] -= 1
            if not self._downloading[user_id]:
                del self._downloading[user_id]
        held.count_against(self.budget)
        return held


def _checked(data: bytes, engine: EngineConfig, max_side: int, guide: bool) -> HeldImage:
    """Decode exactly as the worker will (refusing what it would refuse): the image with its
    source JPEG, its size and, for an animation, its frame count. A guide is taken at the
    size the worker takes its features at, whatever the dream's size."""
    decoded = decode_guide(data, engine) if guide else decode_for_dream(data, engine, max_side)
    frames, size = decoded.frames, decoded.rgb.size
    if frames > 1 and len(data) <= SOURCE_ANIMATION_BYTES:
        name = f"{SOURCE_PREFIX}{file_extension(decoded.format)}"
        return HeldImage(data, data, size=size, frames=frames, source_name=name)
    source = encode_jpeg(decoded.rgb, quality=SOURCE_QUALITY)
    return HeldImage(data, source, size=size, frames=frames)


async def download_attachment(
    session: aiohttp.ClientSession,
    url: str,
    *,
    config: IntakeConfig,
    declared_size: int | None = None,
) -> bytes:
    """Fetch an image from an allowed host, never reading more than `max_download_bytes`."""
    cap = config.max_download_bytes
    if declared_size is not None and declared_size > cap:
        raise _too_big(declared_size, cap)
    target = _checked_url(url, config)
    try:
        async with asyncio.timeout(config.download_timeout_s):
            for _ in range(MAX_REDIRECTS + 1):
                # Redirects are followed by hand so that every hop passes the host check.
                async with session.get(
                    target,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=config.download_timeout_s),
                ) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        target = _checked_url(
                            str(target.join(URL(resp.headers["Location"]))), config
                        )
                        continue
                    if resp.status != 200:
                        raise DownloadFailed(_http_message(resp.status))
                    if resp.content_length is not None and resp.content_length > cap:
                        raise _too_big(resp.content_length, cap)
                    return await _read_capped(resp, cap)
            raise DownloadFailed("Couldn't download the image: too many redirects.")
    except TimeoutError:
        raise DownloadFailed(
            f"Downloading the image took longer than {config.download_timeout_s:g} s; try again."
        ) from None
    except aiohttp.ClientError:
        raise DownloadFailed("Couldn't download the image (network error); try again.") from None


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    # Content-Length can be absent (chunked) or a lie: count what actually arrives.
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise _too_big(None, cap)
    return bytes(buf)


def _checked_url(url: str, config: IntakeConfig) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        parsed = None
    host = (parsed.host or "").lower().rstrip(".") if parsed is not None else ""
    allowed = {h.lower() for h in config.allowed_hosts}
    if parsed is None or parsed.scheme not in ("http", "https") or host not in allowed:
        raise DownloadFailed("I can only fetch images uploaded to Discord.")
    return parsed


def _too_big(size: int | None, cap: int) -> DownloadFailed:
    what = f" ({_mib(size)})" if size is not None else ""
    return DownloadFailed(f"That image is too big to download{what}; the limit is {_mib(cap)}.")


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KiB"


def _http_message(status: int) -> str:
    hint = {
        404: "; was the message deleted?",
        403: "; the link may have expired",
        410: "; the link may have expired",
    }
    return f"Couldn't download the image (HTTP {status}){hint.get(status, '')}."
