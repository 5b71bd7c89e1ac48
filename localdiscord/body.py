"""Request bodies as discord.py sends them: JSON, or multipart with `payload_json` + `files[n]`
parts (uploads arrive as application/octet-stream); and JSON replies the way discord.py parses
them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import BodyPartReader, web

from .records import UploadedFile


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """(json payload or None, uploaded files)."""
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        payload: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        async for part in reader:
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: discord.py sends none
            if part.filename is not None:  # a file part
                data = await part.read(decode=False)
                files.append(
                    UploadedFile(
                        field_name=part.name or "",
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type", ""),
                        data=bytes(data),
                    )
                )
            elif part.name == "payload_json":
                payload = json.loads(await part.text())
            else:  # any other plain form field: keep it next to the payload
                payload = payload or {}
                payload[part.name or ""] = await part.text()
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def json_response(data: Any, status: int = 200) -> web.Response:
    """Content-Type exactly `application/json`: discord.py does not treat `...; charset=utf-8` as
    JSON."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


class FakeError(Exception):
    """An API error answered as `{"code": ..., "message": ...}` with an HTTP 4xx status."""

    def __init__(self, status: int, code: int, message: str, **extra: Any):
        super().__init__(f"{status} {code} {message}")
        self.status, self.body = status, {"code": code, "message": message, **extra}


def unknown(kind: str, code: int) -> FakeError:
    return FakeError(404, code, f"Unknown {kind}")
