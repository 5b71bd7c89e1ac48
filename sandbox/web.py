"""The sandbox page's server (aiohttp, 127.0.0.1 only, for this page only: see
localdiscord.access): the static page, its event stream (SSE), the attachments, and the
actions a member can take, each turned into what Discord would send the bot (a message, a slash
command, autocomplete, a context menu, a button click or a choice in a select, a form submitted,
a reaction).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from localdiscord import FakeDiscord, inject
from localdiscord.access import local_origin_only
from localdiscord.cdn import attachment_response
from localdiscord.gateway import MESSAGE_CONTENT
from sandbox.bridge import Bridge
from sandbox.forms import submission_problem
from sandbox.rules import mib
from sandbox.view import bot_intents, command_path

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
HOST = "127.0.0.1"
KEEPALIVE_S = 15.0
AUTOCOMPLETE_TIMEOUT_S = 3.0  # Discord drops autocomplete answers after 3 s too


class ApiError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class PageServer:
    def __init__(self, local: FakeDiscord, bridge: Bridge, port: int) -> None:
        self.local, self.bridge, self.port = local, bridge, port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> None:
        app = web.Application(
            middlewares=[local_origin_only(lambda: self.port), self._api_errors],
            client_max_size=max(64 * 1024 * 1024, 4 * self.local.state.filesize_limit),
        )
        add = app.router
        add.add_get("/", self.index)
        add.add_static("/static/", STATIC)
        add.add_get("/attachments/{aid}/{filename}", self.attachment)
        add.add_get("/api/state", self.state)
        add.add_get("/api/events", self.events)
        add.add_post("/api/message", self.message)
        add.add_post("/api/command", self.command)
        add.add_post("/api/autocomplete", self.autocomplete)
        add.add_post("/api/context-menu", self.context_menu)
        add.add_post("/api/button", self.button)
        add.add_post("/api/select", self.select)
        add.add_post("/api/modal", self.submit_modal)
        add.add_post("/api/reaction", self.reaction)
        add.add_post("/api/expire-token", self.expire_token)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- middleware ------------------------------------------------------------------------------

    @web.middleware
    async def _api_errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as err:
            return web.json_response({"error": str(err)}, status=err.status)

    # --- page, attachments, state ---------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        att = self.local.state.attachments.get(request.match_info["aid"])
        if att is None:
            raise web.HTTPNotFound()
        return attachment_response(att)

    async def state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.bridge.snapshot())

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the snapshot, then every change (see bridge.py)."""
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        queue = self.bridge.subscribe()
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if item is None:  # the sandbox is stopping
                    break
                await resp.write(f"data: {item}\n\n".encode())
        except ConnectionResetError:
            pass
        finally:
            self.bridge.unsubscribe(queue)
        return resp

    # --- helpers -------------------------------------------------------------------------------

    def _member(self, user_id: Any) -> dict[str, Any]:
        member = self.local.state.members.get(str(user_id))
        if member is None or member["user"].get("bot"):
            raise ApiError(400, f"no member {user_id}")
        return member

    def _channel(self, channel_id: Any) -> str:
        cid = str(channel_id or self.local.channel["id"])
        if cid not in self.local.state.channels:
            raise ApiError(400, f"no channel {channel_id}")
        return cid

    def _message(self, message_id: Any) -> dict[str, Any]:
        msg = self.local.state.messages.get(str(message_id))
        if msg is None:
            raise ApiError(404, "that message is gone")
        return msg

    def _bot_online(self) -> None:
        if not self.local.gateway.ready.is_set() or bot_intents(self.local) is None:
            raise ApiError(409, "The bot is not connected yet; wait until it shows as online.")

    def _check_upload(self, files: list[tuple[str, bytes, str]]) -> None:
        """Discord refuses a member's upload over the limit before any bot sees it."""
        total = sum(len(data) for _, data, _ in files)
        limit = self.local.state.filesize_limit
        if total > limit:
            text = f"Discord would refuse this upload: {mib(total)} is over the {mib(limit)} limit."
            self.bridge.rules.note("error", "upload", text)
            raise ApiError(413, text)

    @staticmethod
    async def _form(request: web.Request) -> tuple[dict[str, str], dict[str, tuple]]:
        """Fields and files of a multipart form (files as (filename, bytes, content type))."""
        fields: dict[str, str] = {}
        files: dict[str, tuple[str, bytes, str]] = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                ctype = value.content_type or "application/octet-stream"
                files[name] = (value.filename, value.file.read(), ctype)
            else:
                fields[name] = str(value)
        return fields, files

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "expected a JSON body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "expected a JSON object")
        return data

    # --- what a member does --------------------------------------------------------------------

    async def message(self, request: web.Request) -> web.StreamResponse:
        fields, files = await self._form(request)
        member = self._member(fields.get("user"))
        uploads = [f for name, f in sorted(files.items()) if name.startswith("file")]
        if not uploads and not fields.get("content", "").strip():
            raise ApiError(400, "Write something or attach an image.")
        self._check_upload(uploads)
        msg = await self.local.user_message(
            author=member,
            content=fields.get("content", ""),
            attachments=uploads,
            channel=self._channel(fields.get("channel")),
        )
        return web.json_response({"id": msg["id"]})

    async def command(self, request: web.Request) -> web.StreamResponse:
        """A slash command; `options` is JSON, attachment options come as files `option:NAME`."""
        fields, files = await self._form(request)
        member = self._member(fields.get("user"))
        self._bot_online()
        name = fields.get("name", "").strip()
        if not name:
            raise ApiError(400, "no command")
        try:
            options = json.loads(fields.get("options") or "{}")
        except ValueError:
            raise ApiError(400, "options must be JSON") from None
        attachments = {
            key.removeprefix("option:"): f for key, f in files.items() if key.startswith("option:")
        }
        self._check_upload(list(attachments.values()))
        options = self._resolve_members(name, options)
        rec = await self.local.slash_command(
            name,
            options,
            user=member,
            channel=self._channel(fields.get("channel")),
            attachments=attachments or None,
        )
        return web.json_response({"interaction": rec.id})

    def _resolve_members(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """User options arrive as ids; Discord sends the member along (`resolved`)."""
        root, *path = name.split()
        schema = inject.schema_options(self.local.state.find_command(root, 1), path)
        kinds = {o["name"]: o.get("type") for o in schema}
        out = {}
        for key, value in options.items():
            if kinds.get(key) in (inject.USER, inject.MENTIONABLE) and isinstance(value, str):
                value = self._member(value)
            out[key] = value
        return out

    async def autocomplete(self, request: web.Request) -> web.StreamResponse:
        data = await self._json(request)
        member = self._member(data.get("user"))
        self._bot_online()
        options = {k: v for k, v in (data.get("options") or {}).items() if v not in ("", None)}
        focused = str(data.get("focused") or "")
        options[focused] = str((data.get("options") or {}).get(focused) or "")
        try:
            choices = await self.local.autocomplete(
                str(data.get("name", "")),
                self._resolve_members(str(data.get("name", "")), options),
                focused,
                user=member,
                channel=self._channel(data.get("channel")),
                timeout=AUTOCOMPLETE_TIMEOUT_S,
            )
        except (TimeoutError, AssertionError) as err:
            return web.json_response({"choices": [], "error": str(err).splitlines()[0]})
        return web.json_response({"choices": choices})

    async def context_menu(self, request: web.Request) -> web.StreamResponse:
        data = await self._json(request)
        member = self._member(data.get("user"))
        self._bot_online()
        msg = self._message(data.get("message_id"))
        rec = await self.local.context_menu(str(data.get("name", "")), msg, user=member)
        return web.json_response({"interaction": rec.id})

    async def button(self, request: web.Request) -> web.StreamResponse:
        data = await self._json(request)
        member = self._member(data.get("user"))
        self._bot_online()
        msg = self._message(data.get("message_id"))
        try:
            rec = await self.local.click_button(msg, str(data.get("custom_id", "")), user=member)
        except AssertionError as err:  # a button the message no longer shows, or a disabled one
            raise ApiError(409, str(err).splitlines()[0]) from None
        return web.json_response({"interaction": rec.id})

    async def select(self, request: web.Request) -> web.StreamResponse:
        data = await self._json(request)
        member = self._member(data.get("user"))
        self._bot_online()
        msg = self._message(data.get("message_id"))
        values = data.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ApiError(400, "values must be a list of strings")
        rec = await self.local.select(msg, str(data.get("custom_id", "")), values, user=member)
        return web.json_response({"interaction": rec.id})

    async def submit_modal(self, request: web.Request) -> web.StreamResponse:
        """A form the bot opened (a modal answer to `interaction_id`), submitted with `values`
        ({field name: text, or chosen values}); Discord shows a form only to whoever opened it,
        and its client submits only what the fields allow."""
        data = await self._json(request)
        member = self._member(data.get("user"))
        self._bot_online()
        opened = self.local.interactions.get(str(data.get("interaction_id")))
        if opened is None or opened.modal is None:
            raise ApiError(404, "no such form")
        opener = (opened.payload.get("member") or {}).get("user") or opened.payload.get("user")
        if (opener or {}).get("id") != member["user"]["id"]:
            raise ApiError(403, "that form was opened by someone else")
        values = data.get("values") or {}
        if not isinstance(values, dict):
            raise ApiError(400, "values must be an object")
        problem = submission_problem(opened.modal, values)
        if problem:
            raise ApiError(400, problem)
        rec = await self.local.submit_modal(opened, values, user=member)
        return web.json_response({"interaction": rec.id})

    async def reaction(self, request: web.Request) -> web.StreamResponse:
        data = await self._json(request)
        member = self._member(data.get("user"))
        self._bot_online()
        msg = self._message(data.get("message_id"))
        emoji = str(data.get("emoji") or "").strip()
        if not emoji:
            raise ApiError(400, "no emoji")
        intents = bot_intents(self.local) or 0
        if not msg["author"].get("bot") and not intents & MESSAGE_CONTENT:
            author = msg["author"].get("global_name") or msg["author"]["username"]
            self.bridge.rules.note(
                "warn",
                "intent",
                f"Without the Message Content intent the bot sees {author}'s message without "
                f"its image, so this {emoji} cannot re-dream it.",
                message_id=msg["id"],
            )
        await self.local.add_reaction(msg["id"], emoji, user=member)
        return web.json_response({"ok": True})

    async def expire_token(self, request: web.Request) -> web.StreamResponse:
        """Fast-forward one interaction past Discord's 15-minute token lifetime."""
        data = await self._json(request)
        rec = self.local.interactions.get(str(data.get("interaction_id")))
        if rec is None:
            raise ApiError(404, "no such interaction")
        if not rec.expired:
            self.local.expire_token(rec.token)
            self.bridge.rules.note(
                "info",
                "token",
                f"The token of /{command_path(rec)} expired (on Discord: 15 minutes after the "
                "command). From now on the bot must answer in the channel.",
                interaction_id=rec.id,
            )
        return web.json_response({"ok": True})
