"""The page's view of the local Discord: messages, interactions, commands and the bot's connection,
as plain JSON. Everything here is read from the local Discord's state and records, never from the
bot, so the page shows what Discord would see."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from localdiscord import FakeDiscord, InteractionRecord
from localdiscord import payloads as P
from localdiscord.gateway import MESSAGE_CONTENT
from sandbox.forms import modal_view

CALLBACK_NAMES = {
    1: "pong",
    4: "message",
    5: "thinking",
    6: "deferred update",
    7: "update",
    8: "autocomplete",
    9: "modal",
}
INTERACTION_KINDS = {2: "command", 3: "component", 4: "autocomplete", 5: "modal"}
MESSAGE_FLAG_COMPONENTS_V2 = 1 << 15  # no content or embeds: the components are the message
MEDIA_KEYS = ("media", "file")  # where V2 components hold a URL: thumbnails, gallery items, files


def attachment_url(att: dict[str, Any]) -> str:
    """Attachments are served by the page itself (one origin, one port to tunnel)."""
    return f"/attachments/{att['id']}/{quote(att['filename'])}"


def _local_url(url: str, base: str, by_name: dict[str, str]) -> str:
    if url.startswith("attachment://"):
        return by_name.get(url.removeprefix("attachment://"), "")
    if base and url.startswith(base + "/attachments/"):
        return url.removeprefix(base)
    return url


def _embed(embed: dict[str, Any], base: str, by_name: dict[str, str]) -> dict[str, Any]:
    out = dict(embed)
    for key in ("image", "thumbnail"):
        if isinstance(out.get(key), dict) and out[key].get("url"):
            out[key] = {**out[key], "url": _local_url(out[key]["url"], base, by_name)}
    return out


def _components(node: Any, base: str, by_name: dict[str, str]) -> Any:
    """A component tree (classic rows, or Components V2) with its media URLs made the page's
    own, whether the bot wrote `attachment://name` or Discord already resolved it."""
    if isinstance(node, list):
        return [_components(n, base, by_name) for n in node]
    if not isinstance(node, dict):
        return node
    out = {key: _components(value, base, by_name) for key, value in node.items()}
    for key in MEDIA_KEYS:
        media = out.get(key)
        if isinstance(media, dict) and isinstance(media.get("url"), str):
            out[key] = {**media, "url": _local_url(media["url"], base, by_name)}
    return out


def bot_intents(local: FakeDiscord) -> int | None:
    """The intents of the bot's live gateway session (None when it is not connected)."""
    for session in local.gateway.active:
        if session.session_id is not None:
            return session.intents
    return None


def hidden_from_bot(local: FakeDiscord, msg: dict[str, Any]) -> bool:
    """The bot receives this message without its content and attachments (no Message Content)."""
    intents = bot_intents(local)
    if intents is None or not (msg.get("content") or msg.get("attachments")):
        return False
    seen = local.state.visible_to_bot(msg, bool(intents & MESSAGE_CONTENT))
    return not seen["attachments"] and not seen["content"]


def message_view(local: FakeDiscord, msg: dict[str, Any]) -> dict[str, Any]:
    base = local.base_url
    attachments = [
        {
            "id": a["id"],
            "filename": a["filename"],
            "url": attachment_url(a),
            "content_type": a.get("content_type", ""),
            "size": a.get("size", 0),
            "width": a.get("width"),
            "height": a.get("height"),
        }
        for a in msg.get("attachments", [])
    ]
    by_name = {a["filename"]: a["url"] for a in attachments}
    author = msg["author"]
    meta = msg.get("interaction_metadata") or {}
    ref = msg.get("message_reference") or {}
    return {
        "id": msg["id"],
        "channel_id": msg["channel_id"],
        "author": {
            "id": author["id"],
            "name": author.get("global_name") or author.get("username", "?"),
            "bot": bool(author.get("bot")),
        },
        "content": msg.get("content", ""),
        "timestamp": msg.get("timestamp"),
        "edited": bool(msg.get("edited_timestamp")),
        "attachments": attachments,
        "embeds": [_embed(e, base, by_name) for e in msg.get("embeds", [])],
        "components": _components(P.public(msg.get("components", [])), base, by_name),
        "v2": bool(msg.get("flags", 0) & MESSAGE_FLAG_COMPONENTS_V2),
        "reactions": [
            {
                "emoji": r["emoji"]["name"],
                "count": r["count"],
                "users": list(r.get("_users", [])),
            }
            for r in msg.get("reactions", [])
        ],
        "ephemeral": bool(msg.get("flags", 0) & P.MESSAGE_FLAG_EPHEMERAL),
        "loading": bool(msg.get("flags", 0) & P.MESSAGE_FLAG_LOADING),
        "interaction": (
            {
                "id": meta["id"],
                "name": meta.get("name"),  # commands only (buttons have none)
                "command_type": meta.get("command_type"),  # 1 slash, 3 message context menu
                "kind": INTERACTION_KINDS.get(meta.get("type", 0)),  # "modal": a form's answer
                "user_id": meta["user"]["id"],
            }
            if meta
            else None
        ),
        "reply_to": ref.get("message_id"),
        "hidden_from_bot": hidden_from_bot(local, msg),
    }


def command_path(rec: InteractionRecord) -> str:
    """`dream`, `quota set`, or the button's custom_id."""
    data = rec.payload.get("data") or {}
    if rec.type == 3:
        return data.get("custom_id", "")
    parts = [data.get("name", "")]
    options = data.get("options") or []
    while options and options[0].get("type") in (1, 2):
        parts.append(options[0]["name"])
        options = options[0].get("options") or []
    return " ".join(parts)


def interaction_view(rec: InteractionRecord) -> dict[str, Any]:
    payload = rec.payload
    user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
    first = rec.callbacks[0].type if rec.callbacks else None
    return {
        "id": rec.id,
        "kind": INTERACTION_KINDS.get(rec.type, str(rec.type)),
        "name": command_path(rec),
        "user_id": user.get("id"),
        "acknowledged": rec.acknowledged,
        "ack_latency": rec.ack_latency,
        "callback": CALLBACK_NAMES.get(first, str(first)) if first is not None else None,
        "expired": rec.expired,
        "original_id": rec.original_id,
        "modal": modal_view(rec.modal) if rec.modal is not None else None,
    }


def commands_view(local: FakeDiscord) -> list[dict[str, Any]]:
    """The commands the bot synced (guild ones first), as Discord stores them."""
    gid = local.guild["id"]
    return [*local.commands.get(gid, []), *local.commands.get(None, [])]


def bot_view(local: FakeDiscord, *, logged_in: bool, synced: bool) -> dict[str, Any]:
    """Where the bot is in connecting, from what the local Discord has seen of it: `logged_in`
    (it asked GET /users/@me), `synced` (it put its commands)."""
    intents = bot_intents(local)
    asked = [i.get("intents", 0) for i in local.identifies]
    if intents is not None:
        phase = "online"
    elif local.identifies:
        phase = "reconnecting"
    elif synced:
        phase = "connecting"
    elif logged_in:
        phase = "starting"  # setup: store, workers loading their models, command sync
    else:
        phase = "waiting"
    return {
        "id": local.bot_user["id"],
        "name": local.bot_user["username"],
        "phase": phase,
        "message_content": bool(intents is not None and intents & MESSAGE_CONTENT),
        "asked_message_content": bool(asked and asked[-1] & MESSAGE_CONTENT),
        "refused_message_content": 4014 in local.gateway.close_codes,
    }


def world_view(local: FakeDiscord) -> dict[str, Any]:
    """The guild: channels, roles, members (names and whether they may manage the server)."""
    state = local.state
    members = []
    for m in state.members.values():
        user = m["user"]
        perms = state.permissions_of(user["id"])
        members.append(
            {
                "id": user["id"],
                "name": user.get("global_name") or user["username"],
                "bot": bool(user.get("bot")),
                "roles": list(m.get("roles", [])),
                "permissions": str(perms),
                "manage_guild": bool(perms & P.MANAGE_GUILD),
            }
        )
    return {
        "guild": {"id": local.guild["id"], "name": local.guild["name"]},
        "channels": [{"id": c["id"], "name": c["name"]} for c in state.channels.values()],
        "roles": [{"id": r["id"], "name": r["name"]} for r in state.roles.values()],
        "members": members,
    }
