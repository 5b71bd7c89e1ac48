"""The fake's world: one guild with channels, roles and members, messages, commands, interactions,
and the log of requests. Also the waiting primitive (`wait_for`) every other part notifies, and a
change feed (`listeners`, `emit`) for watchers that need every change in order (the sandbox)."""

from __future__ import annotations

import asyncio
import copy
import inspect
import io
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from PIL import Image

from . import components as C
from . import payloads as P
from .access import issue_token
from .records import InteractionRecord, RequestRecord, UploadedFile

log = logging.getLogger("localdiscord")
# An attachment a create or edit keeps: an existing one, or an upload (file, its name, extras)
Planned = dict[str, Any] | tuple[UploadedFile, str, dict[str, Any]]


def _names(planned: list[Planned]) -> list[str]:
    return [p["filename"] if isinstance(p, dict) else p[1] for p in planned]


class FakeState:
    def __init__(
        self,
        *,
        allow_message_content: bool,
        filesize_limit: int,
        bot_permissions: int,
        ack_deadline: float | None = None,
        token_lifetime: float | None = None,
        token: str | None = None,
    ):
        self.allow_message_content = allow_message_content
        self.ack_deadline = ack_deadline
        self.token_lifetime = token_lifetime  # None: tokens expire only through expire_token
        self.filesize_limit = filesize_limit
        self.base_url = ""  # http://127.0.0.1:PORT, set once the server listens
        self.dispatch: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None

        self.bot_user = P.user(name="dreambot", bot=True)
        self.application_id = self.bot_user["id"]
        # the bot token this Discord issued: its REST API and gateway take no other
        self.token = token or issue_token(self.bot_user["id"])
        self.owner = P.user(name="owner")
        gid = P.snowflake()
        self.guild = P.guild(gid, self.owner["id"])
        self.roles: dict[str, dict[str, Any]] = {
            gid: P.role(gid, "@everyone", P.EVERYONE_PERMISSIONS),
        }
        self.bot_role = self._add_role(
            "dreambot", bot_permissions, managed=True, tags={"bot_id": self.bot_user["id"]}
        )
        self.admin_role = self._add_role("admin", P.ADMINISTRATOR | P.MANAGE_GUILD)
        self.messages: dict[str, dict[str, Any]] = {}
        self.channel_messages: dict[str, list[str]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.channel = self.add_channel("general")
        self.dm_channels: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.members[self.bot_user["id"]] = P.member(self.bot_user, [self.bot_role["id"]])
        self.members[self.owner["id"]] = P.member(self.owner)

        self.attachments: dict[str, dict[str, Any]] = {}  # id -> attachment payload incl. bytes
        self.avatars: dict[str, bytes] = {}  # avatar hash -> the image its owner uploaded
        self.commands: dict[
            str | None, list[dict[str, Any]]
        ] = {}  # guild id (None = global) -> cmds
        self.interactions: dict[str, InteractionRecord] = {}
        self.expired_tokens: set[str] = set()

        self.requests: list[RequestRecord] = []
        self.downloads: list[str] = []  # attachment ids fetched from /attachments/...
        # Channels the bot cannot view: its REST calls there get 403 Missing Access (interaction
        # callbacks and webhooks still work, as on Discord).
        self.hidden_channels: set[str] = set()
        self.foreign_channels: dict[str, dict[str, Any]] = {}  # see foreign_channel()
        self.foreign_guild_id = P.snowflake()  # a server with the user-installed app, not the bot
        self.unhandled: list[str] = []  # "METHOD /path" the fake has no route for
        self.errors: list[str] = []  # handler exceptions (answered with 400)
        self._waiters: set[asyncio.Future[None]] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        # Called with (kind, object) on every change, synchronously and in order: "message" (created
        # or edited; also reactions), "delete", "interaction" (dispatched, answered, expired),
        # "request" (answered), "gateway" (identify, close), "commands" (synced).
        self.listeners: list[Callable[[str, Any], None]] = []

    def emit(self, kind: str, obj: Any) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, obj)
            except Exception:  # a watcher's bug must not break the fake for the bot
                log.exception("localdiscord listener failed on %s", kind)

    # guild ----------------------------------------------------------------
    def _add_role(self, name: str, permissions: int, **extra: Any) -> dict[str, Any]:
        r = P.role(P.snowflake(), name, permissions, position=len(self.roles), **extra)
        self.roles[r["id"]] = r
        return r

    def add_role(self, name: str, permissions: int = 0) -> dict[str, Any]:
        return self._add_role(name, permissions)

    def add_channel(self, name: str) -> dict[str, Any]:
        ch = P.text_channel(P.snowflake(), self.guild["id"], name, position=len(self.channels))
        self.channels[ch["id"]] = ch
        self.channel_messages[ch["id"]] = []
        if self.dispatch is not None:  # a connected bot learns of it as from Discord
            self.spawn(self.dispatch("CHANNEL_CREATE", copy.deepcopy(ch)))
        return ch

    def foreign_channel(self, kind: int, **fields: Any) -> dict[str, Any]:
        """A channel the bot is not in (a group DM, a server without the bot): the bot's REST
        calls there get 404, and nothing said there reaches its gateway."""
        if kind == 0:  # a server's text channel
            guild_id = fields.pop("guild_id")
            ch = P.text_channel(P.snowflake(), guild_id, "elsewhere", position=0) | fields
        else:
            ch = {"id": P.snowflake(), "type": kind, "name": "elsewhere", "flags": 0, **fields}
        self.foreign_channels[ch["id"]] = ch
        self.channel_messages[ch["id"]] = []
        return ch

    def place_of(self, channel_id: str) -> str:
        """Where a channel is, as `inject.interaction_base` names it."""
        if channel_id in self.dm_channels:
            return "dm"
        ch = self.foreign_channels.get(channel_id)
        if ch is not None:
            return "private" if ch["type"] in (1, 3) else "elsewhere"
        return "guild"

    def dm_channel_for(self, user_id: str) -> dict[str, Any]:
        for ch in self.dm_channels.values():
            if ch["recipients"][0]["id"] == user_id:
                return ch
        m = self.members.get(user_id)
        recipient = m["user"] if m else P.user(user_id, "someone")
        ch = {
            "id": P.snowflake(),
            "type": 1,
            "recipients": [recipient],
            "last_message_id": None,
            "flags": 0,
        }
        self.dm_channels[ch["id"]] = ch
        self.channel_messages[ch["id"]] = []
        return ch

    def add_member(
        self, user_id: str | int | None = None, name: str = "alice", roles=(), admin: bool = False
    ) -> dict[str, Any]:
        role_ids = [str(r["id"] if isinstance(r, dict) else r) for r in roles]
        if admin:
            role_ids.append(self.admin_role["id"])
        m = P.member(P.user(user_id, name), role_ids)
        self.members[m["user"]["id"]] = m
        self.guild_member_count_changed(m)
        return copy.deepcopy(m)

    def guild_member_count_changed(self, m: dict[str, Any]) -> None:
        if self.dispatch is not None:
            data = {**P.public(m), "guild_id": self.guild["id"]}
            self.spawn(self.dispatch("GUILD_MEMBER_ADD", data))

    def permissions_of(self, user_id: str) -> int:
        if user_id == self.guild["owner_id"]:
            return P.ALL_PERMISSIONS
        m = self.members.get(user_id)
        perms = int(self.roles[self.guild["id"]]["permissions"])
        for rid in (m or {}).get("roles", []):
            if rid in self.roles:
                perms |= int(self.roles[rid]["permissions"])
        return P.ALL_PERMISSIONS if perms & P.ADMINISTRATOR else perms

    def member_payload(
        self, user: dict[str, Any], *, with_permissions: bool = False
    ) -> dict[str, Any]:
        """The member for `user` (a user dict, or a member dict with `user`); registers unknown
        users."""
        u = user.get("user", user)
        m = self.members.get(u["id"])
        if m is None:
            m = self.members[u["id"]] = P.member(copy.deepcopy(u), list(user.get("roles", [])))
        out = P.public(copy.deepcopy(m))
        if with_permissions:
            out["permissions"] = str(self.permissions_of(u["id"]))
        return out

    def guild_create_payload(self) -> dict[str, Any]:
        members = [P.public(m) for m in self.members.values()]
        return {
            **P.public(self.guild),
            "unavailable": False,
            "large": False,
            "member_count": len(
                members
            ),  # equal to len(members): discord.py then needs no chunking
            "joined_at": P.now_iso(),
            "roles": list(self.roles.values()),
            "channels": list(self.channels.values()),
            "threads": [],
            "members": members,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def set_avatar(self, user_id: str, data: bytes, *, server: bool = False) -> str:
        """Give a member an avatar (their global one, or their `server` one); its hash starts with
        `a_` when `data` is animated, as on Discord. Returns the hash."""
        with Image.open(io.BytesIO(data)) as im:
            animated = getattr(im, "is_animated", False)
        avatar = ("a_" if animated else "") + secrets.token_hex(16)
        self.avatars[avatar] = data
        m = self.members[user_id]
        if server:
            m["avatar"] = avatar
        else:
            m["user"]["avatar"] = avatar
        return avatar

    def can_read_history(self, channel_id: str) -> bool:
        """The bot may read a server channel's past messages (Read Message History); else Discord
        answers the message list with no messages at all."""
        if channel_id not in self.channels:
            return True
        return bool(self.permissions_of(self.bot_user["id"]) & P.READ_MESSAGE_HISTORY)

    # messages -------------------------------------------------------------
    def store_attachment(
        self, filename: str, data: bytes, content_type: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        aid = P.snowflake()
        att = P.attachment(aid, filename, data, content_type, self.base_url, **extra)
        self.attachments[aid] = {**att, "data": data}
        return self.attachments[aid]

    def attachments_from(
        self,
        files: list[UploadedFile],
        spec: list[dict[str, Any]] | None,
        existing: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Attachments after a create/edit: kept existing ones listed in `spec` (by id) +
        uploads."""
        return self._stored(self._attachment_plan(files, spec, existing))

    def _attachment_plan(
        self,
        files: list[UploadedFile],
        spec: list[dict[str, Any]] | None,
        existing: list[dict[str, Any]] | None = None,
    ) -> list[Planned]:
        """What `attachments_from` will keep and store, nothing stored yet (names are checked
        first): an existing attachment, or an upload with its name and extra fields."""
        by_index = {f.field_name: f for f in files}
        out: list[Planned] = []
        if spec is None:  # no `attachments` key: keep everything and append uploads
            out.extend(existing or [])
            out.extend((f, f.filename, {}) for f in files)
            return out
        old = {a["id"]: a for a in existing or []}
        used: set[str] = set()
        for item in spec:
            key = str(item.get("id"))
            if key in old:
                out.append(old[key])
            elif f"files[{key}]" in by_index:
                f = by_index[f"files[{key}]"]
                used.add(f.field_name)
                extra = {k: item[k] for k in ("description", "title") if item.get(k)}
                out.append((f, item.get("filename") or f.filename, extra))
        out.extend((f, f.filename, {}) for f in files if f.field_name not in used)
        return out

    def _stored(self, plan: list[Planned]) -> list[dict[str, Any]]:
        return [
            p
            if isinstance(p, dict)
            else self.store_attachment(p[1], p[0].data, p[0].content_type, **p[2])
            for p in plan
        ]

    def create_message(
        self,
        channel_id: str,
        author: dict[str, Any],
        payload: dict[str, Any],
        files: Sequence[UploadedFile] = (),
        **extra: Any,
    ) -> dict[str, Any]:
        """Store a new message; raises FakeError (400) for components Discord refuses
        (localdiscord/components.py), before anything is stored."""
        flags = int(payload.get("flags") or 0)
        planned = self._attachment_plan(list(files), payload.get("attachments"))
        components = payload.get("components") or []
        C.check(flags, payload.get("content"), payload.get("embeds"), components, _names(planned))
        attachments = self._stored(planned)
        mid = P.snowflake()
        msg: dict[str, Any] = {
            "id": mid,
            "type": 0,
            "channel_id": str(channel_id),
            "author": author,
            "content": payload.get("content") or "",
            "timestamp": P.now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "embeds": payload.get("embeds") or [],
            "components": C.resolved(components, attachments, flags),
            "attachments": attachments,
            "reactions": [],
            "flags": flags,
        }
        if str(channel_id) in self.channels:
            msg["guild_id"] = self.guild["id"]
        if payload.get("nonce") is not None:
            msg["nonce"] = payload["nonce"]
        ref = payload.get("message_reference")
        if ref and ref.get("message_id"):
            msg["type"] = 19
            msg["message_reference"] = {
                "type": 0,
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id") or channel_id),
                "guild_id": msg.get("guild_id"),
            }
            target = self.messages.get(str(ref["message_id"]))
            msg["referenced_message"] = P.public(target) if target else None
        msg.update(extra)
        self.messages[mid] = msg
        self.channel_messages.setdefault(str(channel_id), []).append(mid)
        self.emit("message", msg)
        return msg

    def edit_message(
        self, mid: str, payload: dict[str, Any], files: list[UploadedFile]
    ) -> dict[str, Any]:
        """Edit a stored message; raises FakeError (400) when the message it would become breaks
        a rule of components, leaving it as it was. Once a message is V2 it stays V2."""
        msg = self.messages[mid]
        after: dict[str, Any] = {}
        for key in ("content", "embeds", "components"):
            if key in payload:
                after[key] = (
                    payload[key] if payload[key] is not None else ([] if key != "content" else "")
                )
            else:
                after[key] = msg[key]
        flags = msg["flags"]
        if "flags" in payload and payload["flags"] is not None:
            flags = (msg["flags"] & (P.MESSAGE_FLAG_EPHEMERAL | C.COMPONENTS_V2)) | int(
                payload["flags"]
            )
        flags &= ~P.MESSAGE_FLAG_LOADING
        planned: list[Planned] = list(msg["attachments"])
        if files or "attachments" in payload:
            planned = self._attachment_plan(files, payload.get("attachments"), msg["attachments"])
        C.check(flags, after["content"], after["embeds"], after["components"], _names(planned))
        msg["attachments"] = self._stored(planned)
        msg.update(
            content=after["content"],
            embeds=after["embeds"],
            components=C.resolved(after["components"], msg["attachments"], flags),
            flags=flags,
            edited_timestamp=P.now_iso(),
        )
        self.emit("message", msg)
        return msg

    def delete_message(self, mid: str) -> dict[str, Any]:
        msg = self.messages.pop(mid)
        ids = self.channel_messages.get(msg["channel_id"], [])
        if mid in ids:
            ids.remove(mid)
        self.emit("delete", msg)
        return msg

    def message_view(self, mid: str) -> dict[str, Any] | None:
        """A copy of a stored message for tests: attachments keep their bytes under `data`."""
        msg = self.messages.get(str(mid))
        return copy.deepcopy(msg) if msg is not None else None

    def messages_in(
        self, channel_id: str | int | None = None, *, include_ephemeral: bool = False
    ) -> list[dict[str, Any]]:
        cid = str(channel_id or self.channel["id"])
        out = [self.message_view(mid) for mid in self.channel_messages.get(cid, [])]
        return [
            m for m in out if m and (include_ephemeral or not m["flags"] & P.MESSAGE_FLAG_EPHEMERAL)
        ]

    def visible_to_bot(self, msg: dict[str, Any], has_intent: bool) -> dict[str, Any]:
        """Wire form as the bot sees it: without MESSAGE_CONTENT, other users' guild messages that
        do not mention the bot lose content, embeds, attachments, components and poll."""
        out = P.public(msg)
        mentioned = f"<@{self.bot_user['id']}>" in msg.get("content", "")
        if (
            has_intent
            or msg["author"]["id"] == self.bot_user["id"]
            or "guild_id" not in msg
            or mentioned
        ):
            return out
        out.update(content="", embeds=[], attachments=[], components=[])
        out.pop("poll", None)
        return out

    # commands -------------------------------------------------------------
    def set_commands(
        self, guild_id: str | None, commands: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        old = {(c["name"], c.get("type", 1)): c for c in self.commands.get(guild_id, [])}
        out = []
        for c in commands:
            kind = c.get("type", 1)
            prev = old.get((c["name"], kind))
            cmd = {
                "id": prev["id"] if prev else P.snowflake(),
                "application_id": self.application_id,
                "version": P.snowflake(),
                "type": kind,
                "description": "",
                "default_member_permissions": None,
                "nsfw": False,
                **c,
            }
            cmd["type"] = kind
            if guild_id:
                cmd["guild_id"] = guild_id
            out.append(cmd)
        self.commands[guild_id] = out
        self.emit("commands", guild_id)
        return out

    def find_command(self, name: str, kind: int) -> dict[str, Any] | None:
        for gid in (self.guild["id"], None):
            for c in self.commands.get(gid, []):
                if c["name"] == name and c.get("type", 1) == kind:
                    return c
        return None

    # tokens ---------------------------------------------------------------
    def expire_token(self, token: str) -> None:
        self.expired_tokens.add(token)
        rec = self.interaction_by_token(token)
        if rec is not None:
            self.emit("interaction", rec)

    def record_expired(self, rec: InteractionRecord) -> bool:
        """Its token expired by `expire_token`, or older than `token_lifetime` (Discord: 15
        minutes)."""
        if rec.token in self.expired_tokens:
            return True
        return self.token_lifetime is not None and rec.age() > self.token_lifetime

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        for rec in self.interactions.values():
            if rec.token == token:
                return rec
        return None

    # tasks / waiting --------------------------------------------------------
    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def notify(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def wait_for(
        self, predicate: Callable[..., Any], timeout: float = 30.0, *, owner: Any = None
    ) -> Any:
        """Wait until `predicate()` (or `predicate(fake)`) is truthy; re-checked on every change."""
        takes_arg = _takes_argument(predicate)
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while True:
            value = predicate(owner) if takes_arg else predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"localdiscord.wait_for timed out after {timeout}s\n" + self.dump()
                )
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.add(fut)
            try:
                await asyncio.wait_for(fut, min(remaining, 0.5))
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(fut)

    def dump(self, last: int = 20) -> str:
        lines = [f"last {min(last, len(self.requests))} of {len(self.requests)} requests:"]
        lines += [f"  {r!r}" for r in self.requests[-last:]]
        if self.unhandled:
            lines.append(f"unhandled routes: {self.unhandled}")
        if self.errors:
            lines.append(f"handler errors: {self.errors}")
        return "\n".join(lines)


def _takes_argument(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in params
    )
