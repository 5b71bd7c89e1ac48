"""Payloads for what a test injects: interactions (slash, autocomplete, context menus, components),
user messages. Option types come from the commands the bot synced (falling back to the Python
type)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from . import payloads as P

if TYPE_CHECKING:
    from .state import FakeState

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)


def id_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj["id"] if "id" in obj else obj["user"]["id"])
    return str(obj)


PLACES = ("guild", "dm", "private", "elsewhere")


def interaction_base(
    state: FakeState, kind: int, user: dict[str, Any], channel: Any = None, where: str = "guild"
) -> dict[str, Any]:
    """An interaction in the bot's server (`where="guild"`), or from the app installed to the
    user's account: in its DM with the bot (`dm`), a group DM the bot is not in (`private`),
    or a server the bot is not in (`elsewhere`)."""
    if where != "guild":
        return _user_install_base(state, kind, user, where, id_of(channel) if channel else None)
    ch = state.channels.get(id_of(channel)) if channel is not None else state.channel
    if ch is None:
        raise KeyError(f"localdiscord: unknown channel {channel!r}")
    member = state.member_payload(user, with_permissions=True)
    gid = state.guild["id"]
    return {
        "id": P.snowflake(),
        "application_id": state.application_id,
        "type": kind,
        "token": secrets.token_urlsafe(64),
        "version": 1,
        "guild_id": gid,
        "guild": {"id": gid, "locale": "en-US", "features": []},
        "channel_id": ch["id"],
        "channel": {**ch, "permissions": member["permissions"]},
        "member": member,
        "app_permissions": str(state.permissions_of(state.bot_user["id"])),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": gid},
        "context": 0,
        "attachment_size_limit": state.filesize_limit,
    }


def _user_install_base(
    state: FakeState, kind: int, user: dict[str, Any], where: str, channel_id: str | None
) -> dict[str, Any]:
    if where not in PLACES:
        raise ValueError(f"localdiscord: where must be one of {PLACES}, not {where!r}")
    u = user.get("user", user)
    base: dict[str, Any] = {
        "id": P.snowflake(),
        "application_id": state.application_id,
        "type": kind,
        "token": secrets.token_urlsafe(64),
        "version": 1,
        "app_permissions": str(P.BOT_PERMISSIONS),
        "locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"1": u["id"]},  # installed to this user's account
        "attachment_size_limit": state.filesize_limit,
    }
    known = state.foreign_channels.get(channel_id or "") or state.dm_channels.get(channel_id or "")
    if where == "dm":  # the bot's own DM with the user: the bot may post there
        ch = known or state.dm_channel_for(u["id"])
        return {**base, "context": 1, "channel_id": ch["id"], "channel": ch, "user": u}
    if where == "private":  # a group DM the bot is not part of
        ch = known or state.foreign_channel(3, recipients=[u, P.user(P.snowflake(), "friend")])
        return {**base, "context": 2, "channel_id": ch["id"], "channel": ch, "user": u}
    gid = state.foreign_guild_id  # a server the bot is not in
    ch = known or state.foreign_channel(0, guild_id=gid)
    member = {**P.member(u, []), "permissions": str(P.BOT_PERMISSIONS)}
    return {
        **base,
        "context": 0,
        "guild_id": gid,
        "guild": {"id": gid, "locale": "en-US", "features": []},
        "channel_id": ch["id"],
        "channel": {**ch, "permissions": member["permissions"]},
        "member": P.public(member),
        "guild_locale": "en-US",
    }


def schema_options(cmd: dict[str, Any] | None, path: list[str]) -> list[dict[str, Any]]:
    options = (cmd or {}).get("options") or []
    for name in path:
        sub = next((o for o in options if o["name"] == name and o.get("type") in (1, 2)), None)
        options = (sub or {}).get("options") or []
    return options


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], bytes):
        return ATTACHMENT
    if isinstance(value, dict):
        return (
            USER
            if ("username" in value or "user" in value)
            else CHANNEL
            if "type" in value
            else ROLE
        )
    return STRING


def build_command_data(
    state: FakeState,
    name: str,
    options: dict[str, Any] | None,
    *,
    subcommand: str | None = None,
    focused: str | None = None,
    attachments: dict[str, tuple[str, bytes, str]] | None = None,
) -> dict[str, Any]:
    """`data` of a CHAT_INPUT interaction; `name` may hold the subcommand path ("quota set")."""
    root, *path = name.split()
    path += (subcommand or "").split()
    cmd = state.find_command(root, 1)
    schema = {o["name"]: o for o in schema_options(cmd, path)}
    resolved: dict[str, dict[str, Any]] = {}
    leaf: list[dict[str, Any]] = []
    given = {**(options or {}), **(attachments or {})}
    for opt_name, value in given.items():
        kind = schema.get(opt_name, {}).get("type") or _infer_type(value)
        if attachments and opt_name in attachments:
            kind = ATTACHMENT
        item: dict[str, Any] = {"name": opt_name, "type": kind}
        if opt_name == focused:
            item.update(value=str(value), focused=True)
        else:
            item["value"] = _option_value(state, kind, value, resolved)
        leaf.append(item)
    if focused and focused not in given:
        leaf.append(
            {
                "name": focused,
                "type": schema.get(focused, {}).get("type", STRING),
                "value": "",
                "focused": True,
            }
        )
    opts = leaf
    for i, part in enumerate(reversed(path)):
        opts = [{"name": part, "type": 1 if i == 0 else 2, "options": opts}]
    data: dict[str, Any] = {
        "id": cmd["id"] if cmd else P.snowflake(),
        "name": root,
        "type": 1,
        "options": opts,
    }
    if resolved:
        data["resolved"] = resolved
    if cmd and cmd.get("guild_id"):
        data["guild_id"] = cmd["guild_id"]
    return data


def _option_value(
    state: FakeState, kind: int, value: Any, resolved: dict[str, dict[str, Any]]
) -> Any:
    if kind == ATTACHMENT:
        filename, data, ctype = value
        att = state.store_attachment(filename, data, ctype, ephemeral=True)
        resolved.setdefault("attachments", {})[att["id"]] = P.public(att)
        return att["id"]
    if kind in (USER, MENTIONABLE) and isinstance(value, dict):
        member = state.member_payload(value, with_permissions=True)
        uid = member["user"]["id"]
        resolved.setdefault("users", {})[uid] = member["user"]
        resolved.setdefault("members", {})[uid] = {k: v for k, v in member.items() if k != "user"}
        return uid
    if kind == CHANNEL:
        ch = state.channels[id_of(value)]
        resolved.setdefault("channels", {})[ch["id"]] = {
            "id": ch["id"],
            "name": ch["name"],
            "type": ch["type"],
            "parent_id": ch.get("parent_id"),
            "permissions": str(P.ALL_PERMISSIONS),
        }
        return ch["id"]
    if kind == ROLE:
        role = state.roles[id_of(value)]
        resolved.setdefault("roles", {})[role["id"]] = role
        return role["id"]
    if kind in (USER, MENTIONABLE):
        return id_of(value)
    return {INTEGER: int, NUMBER: float, BOOLEAN: bool}.get(kind, str)(value)


def context_menu_data(
    state: FakeState, name: str, kind: int, target: dict[str, Any]
) -> dict[str, Any]:
    """`data` of a USER (2) or MESSAGE (3) context-menu interaction."""
    cmd = state.find_command(name, kind)
    if kind == 3:
        stored = state.messages.get(str(target["id"]))
        msg = P.public(stored) if stored else P.public(target)
        resolved = {"messages": {msg["id"]: msg}}
        target_id = msg["id"]
    else:
        member = state.member_payload(target, with_permissions=True)
        target_id = member["user"]["id"]
        resolved = {
            "users": {target_id: member["user"]},
            "members": {target_id: {k: v for k, v in member.items() if k != "user"}},
        }
    data: dict[str, Any] = {
        "id": cmd["id"] if cmd else P.snowflake(),
        "name": name,
        "type": kind,
        "target_id": target_id,
        "resolved": resolved,
    }
    if cmd and cmd.get("guild_id"):
        data["guild_id"] = cmd["guild_id"]
    return data
