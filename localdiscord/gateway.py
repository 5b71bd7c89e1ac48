"""The gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME, member chunks,
dispatch. IDENTIFY and RESUME must carry the bot token this Discord issued (else close 4004, as
Discord does); nothing but heartbeats works before one of them succeeded (4003).

Each dispatch gets the session's next sequence number; events are filtered by the intents the client
identified with, like Discord does (e.g. no MESSAGE_CREATE without GUILD_MESSAGES), and message
payloads lose their content without MESSAGE_CONTENT.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import payloads as P
from .access import token_matches
from .compression import make_encoder, zstd_available

if TYPE_CHECKING:
    from .state import FakeState

log = logging.getLogger("localdiscord.gateway")

GUILDS, GUILD_MEMBERS = 1 << 0, 1 << 1
GUILD_MESSAGES, GUILD_MESSAGE_REACTIONS = 1 << 9, 1 << 10
DIRECT_MESSAGES, DIRECT_MESSAGE_REACTIONS = 1 << 12, 1 << 13
MESSAGE_CONTENT = 1 << 15

_GUILD_EVENT_INTENTS = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GUILD_MESSAGE_REACTIONS,
}
_DM_EVENT_INTENTS = {
    "MESSAGE_CREATE": DIRECT_MESSAGES,
    "MESSAGE_UPDATE": DIRECT_MESSAGES,
    "MESSAGE_DELETE": DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": DIRECT_MESSAGE_REACTIONS,
}
MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE")


class Session:
    def __init__(self, ws: web.WebSocketResponse, compress: str | None):
        self.ws = ws
        self.encoder = make_encoder(compress)
        self.lock = asyncio.Lock()  # compress+send must stay in stream order
        self.session_id: str | None = None
        self.intents = 0
        self.shard: list[int] | None = None
        self.seq = 0
        self.backlog: list[tuple[int, dict[str, Any]]] = []  # dispatches kept for RESUME

    async def send(self, payload: dict[str, Any], *, replay: bool = False) -> None:
        async with self.lock:
            if payload.get("op") == 0 and not replay:
                self.seq += 1
                payload = {**payload, "s": self.seq}
                self.backlog = [*self.backlog[-199:], (self.seq, payload)]
            frame = self.encoder.encode(json.dumps(payload))
            if self.ws.closed:
                return
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)


class Gateway:
    def __init__(self, state: FakeState, *, gateway_url: Any):
        self.state = state
        self._gateway_url = gateway_url  # callable -> str, known once the server listens
        self.active: set[Session] = set()
        self.sessions: dict[str, Session] = {}  # by session id, kept for RESUME
        self.identifies: list[dict[str, Any]] = []  # IDENTIFY payloads received (token masked)
        self.close_codes: list[int] = []  # close codes the fake sent
        self.compressions: list[str | None] = []  # `compress` asked for by each connection
        self.resumes: list[str] = []  # session ids resumed
        self.refused: list[int] = []  # ops (2 IDENTIFY, 6 RESUME) refused for a wrong token
        self.ready = asyncio.Event()

    def is_allowed(self, session: Session, event: str, data: dict[str, Any]) -> bool:
        table = (
            _GUILD_EVENT_INTENTS
            if data.get("guild_id") or event.startswith("GUILD")
            else _DM_EVENT_INTENTS
        )
        need = table.get(event)
        return need is None or bool(session.intents & need)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH to every identified session whose intents allow it.
        For MESSAGE_CREATE/UPDATE pass the stored message: content is hidden per session."""
        for s in list(self.active):
            if s.session_id is None or not self.is_allowed(s, event, data):
                continue
            d = data
            if event in MESSAGE_EVENTS:
                d = self.state.visible_to_bot(data, bool(s.intents & MESSAGE_CONTENT))
                if (
                    "guild_id" in d
                    and d["author"]["id"] in self.state.members
                    and "member" not in d
                ):
                    d["member"] = {
                        k: v
                        for k, v in self.state.member_payload(d["author"]).items()
                        if k != "user"
                    }
            await s.send({"op": 0, "t": event, "d": d})

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        compress = request.query.get("compress")
        self.compressions.append(compress)
        ws = web.WebSocketResponse(compress=False, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        if compress == "zstd-stream" and not zstd_available():
            log.error("client asked for zstd-stream but zstandard is not importable on the server")
            await self._close(ws, 4000, "zstd-stream unavailable")
            return ws
        session = Session(ws, compress)
        self.active.add(session)
        try:
            await session.send({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_message(session, json.loads(msg.data))
                    self.state.notify()
                elif msg.type is WSMsgType.ERROR:
                    break
        except ConnectionResetError:
            pass
        finally:
            self.active.discard(session)
            self.state.emit("gateway", "disconnect")
            self.state.notify()
        return ws

    async def _close(self, ws: web.WebSocketResponse, code: int, reason: str) -> None:
        self.close_codes.append(code)
        self.state.emit("gateway", "close")
        await ws.close(code=code, message=reason.encode())

    async def _on_message(self, s: Session, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        d: Any = msg.get("d")  # its shape depends on op (a heartbeat's is a number)
        if op == 1:
            await s.send({"op": 11, "d": None, "s": None, "t": None})
        elif op in (2, 6) and not token_matches(self.state.token, (d or {}).get("token")):
            self.refused.append(op)
            await self._close(s.ws, 4004, "Authentication failed.")
        elif op == 2:
            await self._identify(s, d)
        elif op == 6:
            await self._resume(s, d)
        elif s.session_id is None:  # anything else needs an identified (or resumed) session
            await self._close(s.ws, 4003, "Not authenticated.")
        elif op == 8:
            await self._request_members(s, d)
        elif op in (3, 4):
            pass  # presence / voice state: accepted, ignored
        else:
            log.warning("unhandled gateway op %s: %r", op, d)

    async def _identify(self, s: Session, d: dict[str, Any]) -> None:
        self.identifies.append({**d, "token": "***"})
        s.intents = int(d.get("intents", 0))
        if s.intents & MESSAGE_CONTENT and not self.state.allow_message_content:
            await self._close(s.ws, 4014, "Disallowed intent(s).")
            return
        s.shard = d.get("shard")
        s.session_id = P.snowflake()
        self.sessions[s.session_id] = s
        st = self.state
        flags = (1 << 19 | 1 << 15) if st.allow_message_content else 0
        ready = {
            "v": 10,
            "user": st.bot_user,
            "guilds": [{"id": st.guild["id"], "unavailable": True}],
            "session_id": s.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._gateway_url(),
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "application": {"id": st.application_id, "flags": flags},
            "user_settings": {},
            "auth": {},
        }
        if s.shard is not None:
            ready["shard"] = s.shard
        await s.send({"op": 0, "t": "READY", "d": ready})
        if s.intents & GUILDS:
            await s.send({"op": 0, "t": "GUILD_CREATE", "d": st.guild_create_payload()})
        self.ready.set()
        st.emit("gateway", "ready")

    async def _resume(self, s: Session, d: dict[str, Any]) -> None:
        old = self.sessions.get(d.get("session_id") or "")
        if old is None or old.session_id is None:
            await s.send({"op": 9, "d": False, "s": None, "t": None})
            return
        s.session_id, s.intents, s.shard = old.session_id, old.intents, old.shard
        s.seq, s.backlog = old.seq, old.backlog
        self.sessions[s.session_id] = s
        self.resumes.append(s.session_id)
        since = int(d.get("seq") or 0)
        for _seq, payload in [p for p in old.backlog if p[0] > since]:
            await s.send(payload, replay=True)
        await s.send({"op": 0, "t": "RESUMED", "d": {}})

    async def _request_members(self, s: Session, d: dict[str, Any]) -> None:
        members = list(self.state.members.values())
        if d.get("user_ids"):
            ids = {
                str(i)
                for i in (d["user_ids"] if isinstance(d["user_ids"], list) else [d["user_ids"]])
            }
            members = [m for m in members if m["user"]["id"] in ids]
        elif d.get("query"):
            members = [m for m in members if m["user"]["username"].startswith(d["query"])]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        chunk = {
            "guild_id": str(d["guild_id"]),
            "members": [P.public(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "presences": [],
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await s.send({"op": 0, "t": "GUILD_MEMBERS_CHUNK", "d": chunk})

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every session (the client closes and RESUMEs)."""
        for s in list(self.active):
            await s.send({"op": 7, "d": None, "s": None, "t": None})

    async def close_all(self, code: int = 1001) -> None:
        for s in list(self.active):
            if not s.ws.closed:
                await self._close(s.ws, code, "localdiscord shutting down")
