"""Point discord.py at a Discord-compatible server other than discord.com.

Used for the loopback Discord (tests, the sandbox) and for self-hosted proxies. discord.py has
no public option for this, so we set the two class attributes it reads:

- ``discord.http.Route.BASE``: every REST call, including interaction callbacks and webhook
  (followup) calls, is built from it.
- ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``: a plain ``Client``/``Bot`` connects here
  directly (2.7 does not ask ``GET /gateway``), and falls back to it after an invalidated session.
  It must be a ``yarl.URL``. An ``AutoShardedClient`` instead asks ``GET /gateway/bot`` on the REST
  base, so the server must answer that with the same URL; after READY, the client follows the
  server's ``resume_gateway_url``.

- ``discord.asset.Asset.BASE``: the CDN that avatars (and other assets) are built from; "Dream
  avatar" downloads from it, so a double must serve them too.

Empty strings keep Discord's defaults. This changes process-wide state (class attributes).
"""

from __future__ import annotations

import discord.asset
import discord.gateway
import discord.http
import yarl


def apply_endpoints(api_base: str, gateway_url: str, cdn_base: str = "") -> None:
    """Use ``api_base`` (e.g. ``http://127.0.0.1:8080/api/v10``), ``gateway_url`` (``ws://…``)
    and ``cdn_base`` (e.g. ``http://127.0.0.1:8080``)."""
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    if cdn_base:
        discord.asset.Asset.BASE = cdn_base.rstrip("/")
