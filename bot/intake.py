"""Getting an image out of Discord safely: pick the attachment, download it with hard caps.

Decoding (bombs, junk, sizes) is `dreamcore.imaging.decode_image`; this module only fetches bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import aiohttp
from yarl import URL

from bot.errors import DownloadFailed, NoImageFound
from bot.settings import IntakeConfig

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jfif", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif"}
)
NOT_RASTER = frozenset({"image/svg+xml"})  # image/* that Pillow can't dream
MAX_REDIRECTS = 3
CHUNK = 64 * 1024


def pick_image_attachment(attachments: Sequence[Any]) -> Any:
    """The first attachment that looks like an image (content type image/* or an image extension)."""
    for att in attachments:
        content_type = (getattr(att, "content_type", None) or "").split(";")[0].strip().lower()
        if content_type in NOT_RASTER:
            continue
        suffix = PurePosixPath(getattr(att, "filename", "") or "").suffix.lower()
        if content_type.startswith("image/") or suffix in IMAGE_EXTENSIONS:
            return att
    if attachments:
        raise NoImageFound(
            "None of those attachments is an image; attach a PNG, JPEG, GIF or WebP."
        )
    raise NoImageFound("I couldn't find an image there; attach a PNG, JPEG, GIF or WebP.")


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
