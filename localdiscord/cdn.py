"""How an uploaded file is served back (by the local Discord's CDN and by the sandbox page): as the
image or video type its bytes are, else as a download; never as the type the uploader declared.
An `x.html` uploaded as text/html would otherwise be a page on the server's own origin, its
script free to drive the sandbox."""

from __future__ import annotations

import io
import warnings
from typing import Any

from aiohttp import web
from aiohttp.helpers import content_disposition_header
from PIL import Image

from dreamcore.imaging import SUPPORTED_FORMATS
from dreamcore.video import sniff as sniff_video

# Pillow calls MPO "image/mpo", which browsers don't show; its first picture is a plain JPEG.
_BROWSER_TYPES = {"MPO": "image/jpeg"}
_VIDEO_TYPES = {"MP4": "video/mp4", "MOV": "video/quicktime", "WEBM": "video/webm"}


def image_type(data: bytes) -> str | None:
    """`image/png`, ... for bytes that open as one of the formats the bot decodes; None else.
    Reads the header only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a huge header is still an image, not a page
            with Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS) as im:
                fmt = im.format or ""
    except Exception:  # noqa: BLE001 - anything Pillow cannot open is served as a download
        return None
    return _BROWSER_TYPES.get(fmt) or Image.MIME.get(fmt)


def media_type(data: bytes) -> str | None:
    """`image/...` as `image_type` says, or `video/...` for bytes that start like a video the
    bot reads (MP4, MOV, WebM); None else."""
    video = sniff_video(data)
    return _VIDEO_TYPES[video] if video is not None else image_type(data)


def attachment_response(att: dict[str, Any]) -> web.Response:
    """A stored attachment (payload with `data`): an image or video inline, anything else as a
    download."""
    data = att["data"]
    headers = {"X-Content-Type-Options": "nosniff"}
    ctype = media_type(data)
    if ctype is None:
        ctype = "application/octet-stream"
        headers["Content-Disposition"] = content_disposition_header(
            "attachment", filename=att["filename"]
        )
    return web.Response(body=data, headers={**headers, "Content-Type": ctype})


_AVATAR_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF"}


def avatar_image(data: bytes, ext: str) -> tuple[bytes | None, str]:
    """An avatar as the CDN serves it for `ext`: a GIF whole (animated), else its first frame
    in that format; (None, "") for a format the CDN doesn't serve."""
    fmt = _AVATAR_FORMATS.get(ext.lower())
    if fmt is None:
        return None, ""
    if fmt == "GIF":
        return data, "image/gif"
    with Image.open(io.BytesIO(data)) as im:
        buf = io.BytesIO()
        im.convert("RGB" if fmt == "JPEG" else "RGBA").save(buf, fmt)
    return buf.getvalue(), Image.MIME[fmt]
