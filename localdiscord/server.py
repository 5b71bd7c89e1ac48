"""FakeDiscord: a loopback Discord (REST v10 + gateway) that unmodified discord.py connects to.

async with FakeDiscord() as fake:
    with fake.patch_discord():  # dreambot instead: settings discord.api_base, discord.gateway_url
        ... bot.start(fake.token), await fake.wait_until_ready() ...
        rec = await fake.slash_command("ping", user=fake.add_member(name="alice"))
        await rec.wait_for_callback()
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import discord.asset
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from . import components, inject, modals
from . import payloads as P
from .access import local_origin_only
from .gateway import Gateway
from .records import InteractionRecord, RequestRecord, UploadedFile
from .rest import Rest, react
from .state import FakeState
from .webhooks import Webhooks

log = logging.getLogger("localdiscord")


class FakeDiscord:
    def __init__(
        self,
        *,
        allow_message_content: bool = True,
        filesize_limit: int = 10 * 1024 * 1024,
        bot_permissions: int = P.BOT_PERMISSIONS,
        ack_deadline: float | None = None,
        token_lifetime: float | None = None,
        token: str | None = None,
    ):
        """`ack_deadline`: seconds within which an interaction must be acknowledged (Discord: 3);
        None = not enforced (the record's `ack_latency` still tells how long it took).
        `token_lifetime`: seconds an interaction token works (Discord: 900); None = until
        `expire_token`. `token`: the bot token to issue (default: a fresh random one); the REST API
        and the gateway take only that one (`fake.token`)."""
        self.state = FakeState(
            allow_message_content=allow_message_content,
            filesize_limit=filesize_limit,
            bot_permissions=bot_permissions,
            ack_deadline=ack_deadline,
            token_lifetime=token_lifetime,
            token=token,
        )
        self.gateway = Gateway(self.state, gateway_url=lambda: self.gateway_url)
        self.state.dispatch = self.gateway.dispatch
        self.rest = Rest(self.state, self.gateway, lambda: self.gateway_url)
        self.webhooks = Webhooks(self.rest)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # lifecycle ------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(
            middlewares=[local_origin_only(lambda: self.port)],
            client_max_size=max(64 * 1024 * 1024, 4 * self.state.filesize_limit),
        )
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{aid}/{filename}", self.rest.serve_attachment)
        app.router.add_get("/avatars/{uid}/{file}", self.rest.serve_avatar)
        app.router.add_get("/guilds/{gid}/users/{uid}/avatars/{file}", self.rest.serve_avatar)
        app.router.add_route("*", "/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.state.base_url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.gateway.close_all(1001)
        for task in list(self.state.tasks):
            task.cancel()
        await asyncio.gather(*self.state.tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py at this fake and restore it afterwards: the two class attributes
        discord.py reads its REST base and gateway URL from (a yarl.URL). The bot sets the same two
        from its settings (bot/endpoints.py); a test checks that both agree."""
        old = (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            discord.asset.Asset.BASE,
        )
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        discord.asset.Asset.BASE = self.cdn_base
        try:
            yield
        finally:
            (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
                discord.asset.Asset.BASE,
            ) = old

    # addresses and the world ------------------------------------------------
    @property
    def token(self) -> str:
        """The bot token this Discord issued: start the bot with it (`bot.start(fake.token)`)."""
        return self.state.token

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @property
    def api_base(self) -> str:
        return f"{self.state.base_url}/api/v10"

    @property
    def cdn_base(self) -> str:
        """Where avatars are served (Discord: https://cdn.discordapp.com)."""
        return self.state.base_url

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def application_id(self) -> str:
        return self.state.application_id

    @property
    def bot_user(self) -> dict[str, Any]:
        return self.state.bot_user

    @property
    def guild(self) -> dict[str, Any]:
        return self.state.guild

    @property
    def channel(self) -> dict[str, Any]:
        return self.state.channel

    @property
    def owner(self) -> dict[str, Any]:
        return self.state.owner

    @property
    def roles(self) -> dict[str, dict[str, Any]]:
        return self.state.roles

    @property
    def everyone_role(self) -> dict[str, Any]:
        return self.state.roles[self.guild["id"]]

    @property
    def admin_role(self) -> dict[str, Any]:
        return self.state.admin_role

    def add_member(
        self, user_id: str | int | None = None, name: str = "alice", roles=(), admin: bool = False
    ) -> dict[str, Any]:
        """A new guild member (dict with `user`, `roles`, `flags`, ...); announced as
        GUILD_MEMBER_ADD."""
        return self.state.add_member(user_id, name, roles, admin)

    def add_role(self, name: str, permissions: int = 0) -> dict[str, Any]:
        return self.state.add_role(name, permissions)

    def set_avatar(self, member: dict[str, Any], data: bytes, *, server: bool = False) -> str:
        """Give `member` a global (or `server`) avatar, served by the CDN; an animated image gets
        an `a_` hash. Returns the hash."""
        return self.state.set_avatar(inject.id_of(member), data, server=server)

    def add_channel(self, name: str) -> dict[str, Any]:
        return self.state.add_channel(name)

    # recordings ------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        return self.state.requests

    def find_requests(
        self, method: str | None = None, path: str | None = None
    ) -> list[RequestRecord]:
        """Requests by method and path; `path` may contain `*` for one path segment."""
        rx = re.compile("^" + re.escape(path).replace(r"\*", "[^/]+") + "$") if path else None
        return [
            r
            for r in self.state.requests
            if (method is None or r.method == method) and (rx is None or rx.match(r.path))
        ]

    @property
    def commands(self) -> dict[str | None, list[dict[str, Any]]]:
        """Synced commands by guild id (None = global)."""
        return self.state.commands

    @property
    def unhandled(self) -> list[str]:
        return self.state.unhandled

    @property
    def errors(self) -> list[str]:
        return self.state.errors

    @property
    def downloads(self) -> list[str]:
        return self.state.downloads

    @property
    def identifies(self) -> list[dict[str, Any]]:
        return self.gateway.identifies

    @property
    def interactions(self) -> dict[str, InteractionRecord]:
        return self.state.interactions

    def messages_in(
        self, channel_id: str | int | None = None, *, include_ephemeral: bool = False
    ) -> list[dict[str, Any]]:
        """Messages in a channel (default: the default channel), oldest first; attachments carry
        `data`."""
        return self.state.messages_in(channel_id, include_ephemeral=include_ephemeral)

    def message(self, message_id: str | int) -> dict[str, Any] | None:
        return self.state.message_view(str(message_id))

    def attachment_bytes(self, attachment_id: str | int) -> bytes:
        return self.state.attachments[str(attachment_id)]["data"]

    def expire_token(self, token: str) -> None:
        self.state.expire_token(token)

    # waiting --------------------------------------------------------------
    async def wait_for(self, predicate: Callable[..., Any], timeout: float = 30.0) -> Any:
        """Wait until `predicate()` (or `predicate(fake)`) is truthy; re-checked on every request
        and gateway message. Returns the value; raises TimeoutError with a dump of recent
        requests."""
        return await self.state.wait_for(predicate, timeout, owner=self)

    async def wait_until_ready(self, timeout: float = 30.0) -> None:
        """Until a client has identified and received READY + GUILD_CREATE."""
        try:
            await asyncio.wait_for(self.gateway.ready.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no client identified within {timeout}s\n" + self.state.dump()
            ) from None

    async def wait_for_commands(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Until the bot synced commands (PUT .../commands); returns all synced commands."""
        return await self.wait_for(
            lambda: [c for cs in self.state.commands.values() for c in cs], timeout
        )

    def dump(self) -> str:
        return self.state.dump()

    def listen(self, listener: Callable[[str, Any], None]) -> Callable[[], None]:
        """Call `listener(kind, obj)` on every change, in order (see FakeState.listeners).
        Returns a function that stops listening."""
        self.state.listeners.append(listener)
        return lambda: self.state.listeners.remove(listener)

    async def request_reconnect(self) -> None:
        await self.gateway.request_reconnect()

    # injection ------------------------------------------------------------
    async def _dispatch_interaction(self, payload: dict[str, Any]) -> InteractionRecord:
        await self.wait_until_ready()
        rec = InteractionRecord(self.state, payload)
        self.state.interactions[rec.id] = rec
        self.state.emit("interaction", rec)
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return rec

    async def slash_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: dict[str, Any],
        channel: Any = None,
        attachments: dict[str, tuple[str, bytes, str]] | None = None,
        subcommand: str | None = None,
        where: str = "guild",
    ) -> InteractionRecord:
        """Invoke `/name` (`name="quota set"` or `subcommand="set"` for subcommands); `where`:
        see `inject.interaction_base` (the bot's server, or a user install elsewhere)."""
        payload = inject.interaction_base(self.state, 2, user, channel, where)
        payload["data"] = inject.build_command_data(
            self.state, name, options, subcommand=subcommand, attachments=attachments
        )
        return await self._dispatch_interaction(payload)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, Any] | None,
        focused: str,
        *,
        user: dict[str, Any],
        channel: Any = None,
        subcommand: str | None = None,
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        """Autocomplete for option `focused`; returns the bot's choices ([{name, value}, ...])."""
        payload = inject.interaction_base(self.state, 4, user, channel)
        payload["data"] = inject.build_command_data(
            self.state, name, options, subcommand=subcommand, focused=focused
        )
        rec = await self._dispatch_interaction(payload)
        cb = await rec.wait_for_callback(timeout)
        if cb.type != 8:
            raise AssertionError(f"autocomplete answered with callback type {cb.type}, not 8")
        return rec.choices or []

    async def context_menu(
        self,
        name: str,
        message: dict[str, Any],
        *,
        user: dict[str, Any],
        channel: Any = None,
        where: str = "guild",
    ) -> InteractionRecord:
        """Message context-menu command on `message` (a stored message dict, or any with `id`)."""
        payload = inject.interaction_base(
            self.state, 2, user, channel or message.get("channel_id"), where
        )
        payload["data"] = inject.context_menu_data(self.state, name, 3, message)
        return await self._dispatch_interaction(payload)

    async def user_context_menu(
        self,
        name: str,
        target: dict[str, Any],
        *,
        user: dict[str, Any],
        channel: Any = None,
        where: str = "guild",
    ) -> InteractionRecord:
        """User context-menu command on `target` (a member); `where` as for `slash_command`."""
        payload = inject.interaction_base(self.state, 2, user, channel, where)
        payload["data"] = inject.context_menu_data(self.state, name, 2, target)
        return await self._dispatch_interaction(payload)

    async def click_button(
        self, message: dict[str, Any], custom_id: str, *, user: dict[str, Any]
    ) -> InteractionRecord:
        """Click the button `custom_id` of `message`, wherever it is nested (an action row, a
        V2 container, a section's accessory): as on Discord, only a button the message shows
        now, and not a disabled one (AssertionError). A message deleted meanwhile is clicked
        as the test last saw it (the user's client still shows it)."""
        stored = self.state.messages.get(str(message["id"]))
        shown = stored if stored is not None else message
        button = components.find(shown, custom_id)
        if button is None or button.get("type") != components.BUTTON:
            raise AssertionError(
                f"localdiscord: message {message['id']} shows no button {custom_id!r}; it has "
                f"{[b.get('custom_id') for b in components.buttons_of(shown)]}"
            )
        if button.get("disabled"):
            raise AssertionError(f"localdiscord: the button {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": components.BUTTON}
        if button.get("id") is not None:
            data["id"] = button["id"]
        return await self._component(message, data, user)

    @staticmethod
    def buttons(message: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Every button `message` shows, nested ones included, in order."""
        return components.buttons_of(message)

    def user_installed_message(
        self, author: dict[str, Any], attachments: list[tuple[str, bytes, str]], where: str
    ) -> dict[str, Any]:
        """A message with images where the bot is not (a group DM: `private`, another server:
        `elsewhere`); nothing reaches the bot's gateway, but "Dream this image" works on it."""
        channel = inject.interaction_base(self.state, 2, author, None, where)["channel_id"]
        files = [
            UploadedFile(f"files[{i}]", fn, ct, data)
            for i, (fn, data, ct) in enumerate(attachments)
        ]
        u = copy.deepcopy(author.get("user", author))
        return copy.deepcopy(self.state.create_message(channel, u, {"content": ""}, files))

    async def select(
        self,
        message: dict[str, Any],
        custom_id: str,
        values: list[str],
        *,
        user: dict[str, Any],
        component_type: int = 3,
    ) -> InteractionRecord:
        return await self._component(
            message,
            {"custom_id": custom_id, "component_type": component_type, "values": list(values)},
            user,
        )

    async def submit_modal(
        self,
        opened: InteractionRecord,
        changes: dict[str, Any] | None = None,
        *,
        user: dict[str, Any],
    ) -> InteractionRecord:
        """Submit the modal the bot answered `opened` with (callback type 9): a MODAL_SUBMIT
        interaction (type 5) with every field as prefilled unless `changes` (by label: see
        `modals.modal_fields`) says otherwise; from a component, it carries that message."""
        if opened.modal is None:
            raise AssertionError("localdiscord: that interaction was not answered with a modal")
        channel = opened.payload.get("channel_id")
        payload = inject.interaction_base(
            self.state, 5, user, channel, self.state.place_of(channel) if channel else "guild"
        )
        payload["data"] = modals.modal_submit_data(opened.modal, changes or {})
        if "message" in opened.payload:
            stored = self.state.messages.get(str(opened.payload["message"]["id"]))
            payload["message"] = P.public(stored) if stored else opened.payload["message"]
        return await self._dispatch_interaction(payload)

    async def _component(
        self, message: dict[str, Any], data: dict[str, Any], user: dict[str, Any]
    ) -> InteractionRecord:
        stored = self.state.messages.get(str(message["id"]))
        msg = P.public(stored if stored is not None else message)
        payload = inject.interaction_base(
            self.state, 3, user, msg["channel_id"], self.state.place_of(msg["channel_id"])
        )
        payload["data"] = data
        payload["message"] = msg
        return await self._dispatch_interaction(payload)

    async def user_message(
        self,
        *,
        author: dict[str, Any],
        content: str = "",
        attachments: list[tuple[str, bytes, str]] | tuple = (),
        channel: Any = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message by `author` (user or member dict); dispatches MESSAGE_CREATE. Returns the
        stored message (full content; attachments with `data`); the bot sees it per its intents."""
        await self.wait_until_ready()
        cid = inject.id_of(channel) if channel is not None else self.channel["id"]
        self.state.member_payload(author)  # registers unknown authors as members
        files = [
            UploadedFile(f"files[{i}]", fn, ct, data)
            for i, (fn, data, ct) in enumerate(attachments)
        ]
        payload: dict[str, Any] = {"content": content}
        if reply_to is not None:
            payload["message_reference"] = {"message_id": reply_to["id"], "channel_id": cid}
        u = copy.deepcopy(author.get("user", author))
        msg = self.state.create_message(cid, u, payload, files)
        await self.gateway.dispatch("MESSAGE_CREATE", msg)
        self.state.notify()
        return copy.deepcopy(msg)

    async def add_reaction(
        self, message_id: str | int | dict[str, Any], emoji: str, *, user: dict[str, Any]
    ) -> dict[str, Any]:
        """`user` reacts with `emoji` (unicode, or 'name:id'); dispatches MESSAGE_REACTION_ADD."""
        await self.wait_until_ready()
        mid = inject.id_of(message_id)
        msg = self.state.messages.get(mid)
        if msg is None:
            raise KeyError(f"localdiscord: no message {mid}")
        event = await react(self.state, self.gateway, msg, emoji, user)
        self.state.notify()
        return event
