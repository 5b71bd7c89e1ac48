"""Who may use a loopback server of the sandbox (the local Discord, the sandbox page): requests to
this machine's own names, from no web page but the server's own, and (for the local Discord's API)
the bot holding the token it was issued. Any page the user visits can reach 127.0.0.1, and a name
it controls can be rebound to it: the Host and Origin checks keep such pages out."""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

LOCAL_HOSTS = ("127.0.0.1", "localhost")


def issue_token(bot_id: str) -> str:
    """A fresh bot token shaped like Discord's (base64 id . timestamp . HMAC), so whatever treats
    tokens by their shape (the bot's log redaction) treats this one too."""
    first = base64.urlsafe_b64encode(bot_id.encode()).decode().rstrip("=")
    return f"{first}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"


def token_matches(issued: str, given: Any) -> bool:
    return isinstance(given, str) and hmac.compare_digest(issued.encode(), given.encode())


def bot_authorized(request: web.Request, issued: str) -> bool:
    """`Authorization: Bot <the issued token>`, as discord.py sends it."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme == "Bot" and token_matches(issued, token)


def from_local_origin(request: web.Request, port: int) -> bool:
    """Addressed to a local name (a DNS-rebound name is not one) and, when a browser says which page
    sent it (Origin), sent by this server's own page. discord.py sends no Origin."""
    host = (request.host or "").rsplit(":", 1)[0]
    origin = request.headers.get("Origin")
    allowed = {f"http://{h}:{port}" for h in LOCAL_HOSTS}
    return host in LOCAL_HOSTS and (origin is None or origin in allowed)


def local_origin_only(port: Callable[[], int]) -> Any:
    """aiohttp middleware refusing (403) every request `from_local_origin` refuses; `port()`: the
    port the server listens on."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if not from_local_origin(request, port()):
            return web.json_response({"error": "not this page"}, status=403)
        return await handler(request)

    return middleware
