"""REST API v10 routes: gateway info, users, application, commands, channels, messages, reactions,
guilds. Interaction callbacks and webhooks are in webhooks.py. Only the bot's token gets in (401
else, unrecorded); every other request is recorded; unknown routes answer 404 JSON and are logged;
handler bugs answer 400 (never 5xx: discord.py retries those)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from . import payloads as P
from .access import bot_authorized
from .body import FakeError, json_response, read_body, unknown
from .cdn import attachment_response, avatar_image
from .records import RequestRecord

if TYPE_CHECKING:
    from .gateway import Gateway
    from .state import FakeState

log = logging.getLogger("localdiscord.rest")
Handler = Callable[..., Awaitable[tuple[int, Any]]]
_API_PREFIX = re.compile(r"^/api(?:/v\d+)?")


class Match(NamedTuple):
    handler: Handler
    params: dict[str, str]
    bot_token: bool  # the bot's token is needed (not so where the path's token authorises)


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []

    def add(self, method: str, pattern: str, handler: Handler, *, bot_token: bool = True) -> None:
        """`bot_token=False`: a route that the token in its path authorises (interaction callbacks
        and webhooks, as on Discord), not the bot's token."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self.routes.append((method, re.compile(f"^{regex}$"), handler, bot_token))

    def match(self, method: str, path: str) -> Match | None:
        for m, regex, handler, bot_token in self.routes:
            found = regex.match(path)
            if found and m == method:
                return Match(handler, found.groupdict(), bot_token)
        return None


class Rest:
    def __init__(self, state: FakeState, gateway: Gateway, gateway_url: Callable[[], str]):
        self.state, self.gateway, self.gateway_url = state, gateway, gateway_url
        self.router = Router()
        add = self.router.add
        add("GET", "/gateway", self.get_gateway)
        add("GET", "/gateway/bot", self.get_gateway_bot)
        add("GET", "/users/@me", self.get_me)
        add("POST", "/users/@me/channels", self.create_dm)
        add("GET", "/users/{uid}", self.get_user)
        add("GET", "/oauth2/applications/@me", self.get_application)
        add("GET", "/applications/@me", self.get_application)
        for prefix in ("/applications/{app}", "/applications/{app}/guilds/{gid}"):
            add("GET", prefix + "/commands", self.get_commands)
            add("PUT", prefix + "/commands", self.put_commands)
            add("POST", prefix + "/commands", self.post_command)
            add("GET", prefix + "/commands/{cmd}", self.get_command)
            add("DELETE", prefix + "/commands/{cmd}", self.delete_command)
        add("GET", "/channels/{cid}", self.get_channel)
        add("POST", "/channels/{cid}/typing", self.typing)
        add("GET", "/channels/{cid}/messages", self.list_messages)
        add("POST", "/channels/{cid}/messages", self.create_message)
        add("GET", "/channels/{cid}/messages/{mid}", self.get_message)
        add("PATCH", "/channels/{cid}/messages/{mid}", self.edit_message)
        add("DELETE", "/channels/{cid}/messages/{mid}", self.delete_message)
        add("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self.put_reaction)
        add(
            "DELETE", "/channels/{cid}/messages/{mid}/reactions/{emoji}/{uid}", self.delete_reaction
        )
        add("GET", "/guilds/{gid}", self.get_guild)
        add("GET", "/guilds/{gid}/members", self.list_members)
        add("GET", "/guilds/{gid}/members/{uid}", self.get_member)
        add("GET", "/guilds/{gid}/roles", self.get_roles)
        add("GET", "/guilds/{gid}/channels", self.get_channels)

    # plumbing -------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        path = _API_PREFIX.sub("", request.path) or "/"
        found = self.router.match(request.method, path)
        if (found is None or found.bot_token) and not bot_authorized(request, st.token):
            # before the body is read or anything recorded: only the bot may use the API
            log.warning("localdiscord refused %s %s: not the bot's token", request.method, path)
            return json_response({"code": 0, "message": "401: Unauthorized"}, 401)
        payload, files = await read_body(request)
        rec = RequestRecord(request.method, path, dict(request.query), payload, files)
        st.requests.append(rec)
        try:
            if sum(f.size for f in files) > st.filesize_limit:
                raise FakeError(413, 40005, "Request entity too large")
            if found is None:
                st.unhandled.append(f"{request.method} {path}")
                log.warning("localdiscord has no route for %s %s", request.method, path)
                raise FakeError(
                    404,
                    0,
                    f"404: Not Found (localdiscord has no route for {request.method} {path})",
                )
            if found.params.get("cid") in st.hidden_channels:  # the bot lacks View Channel there
                raise FakeError(403, 50001, "Missing Access")
            status, data = await found.handler(rec, **found.params)
        except FakeError as e:
            status, data = e.status, e.body
        except Exception as e:  # a bug in the fake: answer 4xx so discord.py does not retry
            log.exception("localdiscord handler failed for %s %s", request.method, path)
            st.errors.append(f"{request.method} {path}: {e!r}")
            status, data = 400, {"code": 50035, "message": f"localdiscord handler error: {e!r}"}
        rec.status, rec.response = status, data
        st.emit("request", rec)
        st.notify()
        if status == 204 or data is None:
            return web.Response(status=204)
        return json_response(data, status)

    async def serve_attachment(self, request: web.Request) -> web.StreamResponse:
        att = self.state.attachments.get(request.match_info["aid"])
        if att is None:
            return json_response({"code": 0, "message": "404: Not Found"}, 404)
        self.state.downloads.append(att["id"])
        self.state.notify()
        return attachment_response(att)

    async def serve_avatar(self, request: web.Request) -> web.StreamResponse:
        """/avatars/{uid}/{hash}.{ext} and /guilds/{gid}/users/{uid}/avatars/{hash}.{ext}: the
        image in the format asked for (an animated one as a GIF only when its hash says so)."""
        avatar, _, ext = request.match_info["file"].partition(".")
        data = self.state.avatars.get(avatar)
        if data is None or not self._avatar_of(request.match_info, avatar):
            return json_response({"code": 0, "message": "404: Not Found"}, 404)
        if ext == "gif" and not avatar.startswith("a_"):
            return json_response({"code": 0, "message": "415: Unsupported Media Type"}, 415)
        body, ctype = avatar_image(data, ext)
        if body is None:
            return json_response({"code": 0, "message": "400: Bad Request"}, 400)
        return web.Response(body=body, content_type=ctype)

    def _avatar_of(self, where: dict[str, str], avatar: str) -> bool:
        m = self.state.members.get(where["uid"]) or {}
        return avatar == (m.get("avatar") if "gid" in where else m.get("user", {}).get("avatar"))

    def _channel(self, cid: str) -> dict[str, Any]:
        ch = self.state.channels.get(cid) or self.state.dm_channels.get(cid)
        if ch is None:
            raise unknown("Channel", 10003)
        return ch

    def _message(self, cid: str, mid: str) -> dict[str, Any]:
        self._channel(cid)
        msg = self.state.messages.get(mid)
        if msg is None or msg["channel_id"] != cid:
            raise unknown("Message", 10008)
        return msg

    # gateway / users / application -------------------------------------------
    async def get_gateway(self, rec: RequestRecord) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url()}

    async def get_gateway_bot(self, rec: RequestRecord) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url(),
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    async def get_me(self, rec: RequestRecord) -> tuple[int, Any]:
        return 200, self.state.bot_user

    async def get_user(self, rec: RequestRecord, uid: str) -> tuple[int, Any]:
        m = self.state.members.get(uid)
        if m is None:
            raise unknown("User", 10013)
        return 200, m["user"]

    async def create_dm(self, rec: RequestRecord) -> tuple[int, Any]:
        return 200, self.state.dm_channel_for(str((rec.json or {}).get("recipient_id")))

    async def get_application(self, rec: RequestRecord) -> tuple[int, Any]:
        st = self.state
        return 200, {
            "id": st.application_id,
            "name": st.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": st.owner,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 1 << 19 | 1 << 15,
            "bot": st.bot_user,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
            "integration_types_config": {"0": {}},
        }

    # commands -------------------------------------------------------------
    async def get_commands(
        self, rec: RequestRecord, app: str, gid: str | None = None
    ) -> tuple[int, Any]:
        return 200, self.state.commands.get(gid, [])

    async def put_commands(
        self, rec: RequestRecord, app: str, gid: str | None = None
    ) -> tuple[int, Any]:
        return 200, self.state.set_commands(gid, list(rec.json or []))

    async def post_command(
        self, rec: RequestRecord, app: str, gid: str | None = None
    ) -> tuple[int, Any]:
        others = [c for c in self.state.commands.get(gid, []) if c["name"] != rec.json["name"]]
        cmds = self.state.set_commands(gid, [*others, rec.json])
        return 201, cmds[-1]

    async def get_command(
        self, rec: RequestRecord, app: str, cmd: str, gid: str | None = None
    ) -> tuple[int, Any]:
        for c in self.state.commands.get(gid, []):
            if c["id"] == cmd:
                return 200, c
        raise unknown("application command", 10063)

    async def delete_command(
        self, rec: RequestRecord, app: str, cmd: str, gid: str | None = None
    ) -> tuple[int, Any]:
        self.state.commands[gid] = [c for c in self.state.commands.get(gid, []) if c["id"] != cmd]
        return 204, None

    # channels & messages ----------------------------------------------------
    async def get_channel(self, rec: RequestRecord, cid: str) -> tuple[int, Any]:
        return 200, self._channel(cid)

    async def typing(self, rec: RequestRecord, cid: str) -> tuple[int, Any]:
        self._channel(cid)
        return 204, None

    async def list_messages(self, rec: RequestRecord, cid: str) -> tuple[int, Any]:
        """Newest first, up to `limit` (1-100, default 50), `before`/`after` a message id."""
        self._channel(cid)
        q = rec.query
        limit = int(q.get("limit", 50))
        if not 1 <= limit <= 100:
            raise FakeError(400, 50035, "Invalid Form Body")
        if not self.state.can_read_history(cid):
            return 200, []
        ids = list(self.state.channel_messages.get(cid, []))
        if "before" in q:
            ids = [i for i in ids if int(i) < int(q["before"])]
        if "after" in q:
            ids = [i for i in ids if int(i) > int(q["after"])]
        ids = list(reversed(ids))[:limit]
        return 200, [
            self.state.visible_to_bot(self.state.messages[i], self.state.allow_message_content)
            for i in ids
        ]

    async def get_message(self, rec: RequestRecord, cid: str, mid: str) -> tuple[int, Any]:
        return 200, self.state.visible_to_bot(
            self._message(cid, mid), self.state.allow_message_content
        )

    async def create_message(self, rec: RequestRecord, cid: str) -> tuple[int, Any]:
        self._channel(cid)
        payload = rec.json or {}
        ref = payload.get("message_reference")
        if (
            ref
            and ref.get("message_id")
            and str(ref["message_id"]) not in self.state.messages
            and ref.get("fail_if_not_exists", True)
        ):
            raise FakeError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "message_reference": {
                        "_errors": [
                            {
                                "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                "message": "Unknown message",
                            }
                        ]
                    }
                },
            )
        if not (
            payload.get("content")
            or payload.get("embeds")
            or rec.files
            or payload.get("components")
            or payload.get("sticker_ids")
        ):
            raise FakeError(400, 50006, "Cannot send an empty message")
        msg = self.state.create_message(cid, self.state.bot_user, payload, rec.files)
        await self.gateway.dispatch("MESSAGE_CREATE", msg)
        return 200, P.public(msg)

    async def edit_message(self, rec: RequestRecord, cid: str, mid: str) -> tuple[int, Any]:
        msg = self._message(cid, mid)
        if msg["author"]["id"] != self.state.bot_user["id"]:
            raise FakeError(403, 50005, "Cannot edit a message authored by another user")
        msg = self.state.edit_message(mid, rec.json or {}, rec.files)
        await self.gateway.dispatch("MESSAGE_UPDATE", msg)
        return 200, P.public(msg)

    async def delete_message(self, rec: RequestRecord, cid: str, mid: str) -> tuple[int, Any]:
        msg = self._message(cid, mid)
        self.state.delete_message(mid)
        await self.gateway.dispatch("MESSAGE_DELETE", P.message_deleted(msg))
        return 204, None

    async def put_reaction(
        self, rec: RequestRecord, cid: str, mid: str, emoji: str
    ) -> tuple[int, Any]:
        msg = self._message(cid, mid)
        await react(self.state, self.gateway, msg, emoji, self.state.bot_user)
        return 204, None

    async def delete_reaction(
        self, rec: RequestRecord, cid: str, mid: str, emoji: str, uid: str
    ) -> tuple[int, Any]:
        msg = self._message(cid, mid)
        uid = self.state.bot_user["id"] if uid == "@me" else uid
        for r in msg["reactions"]:
            if _emoji_key(r["emoji"]) == emoji and uid in r["_users"]:
                r["_users"].remove(uid)
                r["count"] -= 1
                r["me"] = self.state.bot_user["id"] in r["_users"]
        msg["reactions"] = [r for r in msg["reactions"] if r["count"] > 0]
        self.state.emit("message", msg)
        return 204, None

    # guilds ---------------------------------------------------------------
    def _guild(self, gid: str) -> dict[str, Any]:
        if gid != self.state.guild["id"]:
            raise unknown("Guild", 10004)
        return self.state.guild

    async def get_guild(self, rec: RequestRecord, gid: str) -> tuple[int, Any]:
        g = self._guild(gid)
        return 200, {**P.public(g), "roles": list(self.state.roles.values())}

    async def list_members(self, rec: RequestRecord, gid: str) -> tuple[int, Any]:
        self._guild(gid)
        return 200, [P.public(m) for m in self.state.members.values()][
            : int(rec.query.get("limit", 1))
        ]

    async def get_member(self, rec: RequestRecord, gid: str, uid: str) -> tuple[int, Any]:
        self._guild(gid)
        m = self.state.members.get(uid)
        if m is None:
            raise unknown("Member", 10007)
        return 200, P.public(m)

    async def get_roles(self, rec: RequestRecord, gid: str) -> tuple[int, Any]:
        self._guild(gid)
        return 200, list(self.state.roles.values())

    async def get_channels(self, rec: RequestRecord, gid: str) -> tuple[int, Any]:
        self._guild(gid)
        return 200, list(self.state.channels.values())


def _emoji_key(e: dict[str, Any]) -> str:
    return f"{e['name']}:{e['id']}" if e.get("id") else e["name"]


def parse_emoji(emoji: str) -> dict[str, Any]:
    """'🌀' -> {name: '🌀', id: None}; 'dream:123' (custom) -> {name: 'dream', id: '123'}."""
    name, _, eid = emoji.partition(":")
    return {"name": name, "id": eid or None} if eid else {"name": emoji, "id": None}


async def react(
    state: FakeState, gateway: Gateway, msg: dict[str, Any], emoji: str, user: dict[str, Any]
) -> dict[str, Any]:
    """Add `user`'s reaction to a stored message and dispatch MESSAGE_REACTION_ADD."""
    u = user.get("user", user)
    e = parse_emoji(emoji)
    for r in msg["reactions"]:
        if _emoji_key(r["emoji"]) == _emoji_key(e):
            break
    else:
        r = {
            "emoji": e,
            "count": 0,
            "count_details": {"burst": 0, "normal": 0},
            "me": False,
            "me_burst": False,
            "burst_colors": [],
            "_users": [],
        }
        msg["reactions"].append(r)
    if u["id"] not in r["_users"]:
        r["_users"].append(u["id"])
        r["count"] += 1
        r["count_details"]["normal"] += 1
    r["me"] = state.bot_user["id"] in r["_users"]
    state.emit("message", msg)
    event = {
        "user_id": u["id"],
        "channel_id": msg["channel_id"],
        "message_id": msg["id"],
        "emoji": e,
        "message_author_id": msg["author"]["id"],
        "burst": False,
        "burst_colors": [],
        "type": 0,
    }
    if "guild_id" in msg:
        event["guild_id"] = msg["guild_id"]
        event["member"] = state.member_payload(user)
    await gateway.dispatch("MESSAGE_REACTION_ADD", event)
    return event
