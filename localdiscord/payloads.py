"""Builders for Discord API objects (users, members, roles, channels, messages, attachments).

Shapes follow Discord's API v10 as discord.py 2.7 parses them (ids are strings, members carry
`flags`, messages carry `type`, `content`, `timestamp`, ...).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import mimetypes
import time
from collections.abc import Sequence
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count(1)

# Permission bits used here.
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | ADD_REACTIONS
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | (1 << 13)  # + MANAGE_MESSAGES

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7


def snowflake() -> str:
    """A fresh, unique, time-ordered snowflake (as Discord sends it: a string)."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (next(_counter) & 0x3FFFFF))


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def user(
    user_id: str | int | None = None, name: str = "alice", *, bot: bool = False
) -> dict[str, Any]:
    return {
        "id": str(user_id or snowflake()),
        "username": name,
        "global_name": None if bot else name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def role(
    role_id: str, name: str, permissions: int, position: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
        **extra,
    }


def member(user_payload: dict[str, Any], roles: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "user": user_payload,
        "nick": None,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in roles],
        "joined_at": now_iso(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def text_channel(
    channel_id: str, guild_id: str, name: str = "general", position: int = 0
) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def guild(guild_id: str, owner_id: str, name: str = "Dream Lab") -> dict[str, Any]:
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "emojis": [],
        "stickers": [],
        # Derived from premium tier 0 (what discord.py computes as guild.filesize_limit).
        "filesize_limit": 10 * 1024 * 1024,
    }


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image, or None when it is not one Pillow can read."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # noqa: BLE001 - Pillow raises many types on what is not an image
        return None


def guess_content_type(filename: str, declared: str | None = None) -> str:
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def attachment(
    att_id: str, filename: str, data: bytes, content_type: str | None, base_url: str, **extra: Any
) -> dict[str, Any]:
    """Attachment payload served by the fake at `base_url/attachments/{id}/{filename}`."""
    ctype = guess_content_type(filename, content_type)
    url = f"{base_url}/attachments/{att_id}/{filename}"
    payload: dict[str, Any] = {
        "id": str(att_id),
        "filename": filename,
        "size": len(data),
        "url": url,
        "proxy_url": url,
        "content_type": ctype,
        "flags": 0,
        **extra,
    }
    if ctype.startswith("image/"):
        size = image_size(data)
        if size:
            payload["width"], payload["height"] = size
    return payload


def public(obj: Any) -> Any:
    """The wire form of a stored object: drops private keys (`data` bytes on attachments, `_x`)."""
    if isinstance(obj, dict):
        return {
            k: public(v)
            for k, v in obj.items()
            if not k.startswith("_") and not isinstance(v, bytes)
        }
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


def message_deleted(msg: dict[str, Any]) -> dict[str, Any]:
    """The MESSAGE_DELETE event's payload for a deleted message."""
    out = {"id": msg["id"], "channel_id": msg["channel_id"]}
    if "guild_id" in msg:
        out["guild_id"] = msg["guild_id"]
    return out
