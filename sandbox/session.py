"""One sandbox: the local Discord, the page server and the real bot (bot.runner.serve), started
and stopped together. Used by `dreambot sandbox` and, in-process, by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Any

from bot.runner import serve
from bot.settings import Settings
from localdiscord import FakeDiscord
from sandbox.bridge import Bridge
from sandbox.config import sandbox_settings
from sandbox.models import ModelReport
from sandbox.rules import ACK_DEADLINE_S, TOKEN_LIFETIME_S
from sandbox.web import PageServer

log = logging.getLogger(__name__)


class Sandbox:
    def __init__(
        self,
        settings: Settings,
        models: ModelReport,
        *,
        port: int | None = None,
        enforce_ack: bool = True,
    ) -> None:
        """`port`: the page's (default: sandbox.port). `enforce_ack`: refuse answers later than
        Discord's 3 s, as Discord does (the delay is measured and shown either way)."""
        self.settings, self.models = settings, models
        self.port = settings.sandbox.port if port is None else port
        self.enforce_ack = enforce_ack
        self.local: FakeDiscord | None = None
        self.bridge: Bridge | None = None
        self.page: PageServer | None = None
        self.bot_settings: Settings | None = None
        self.personas: list[dict[str, Any]] = []
        self._task: asyncio.Task[int] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        assert self.page is not None
        return self.page.url

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        cfg = self.settings.sandbox
        self.local = local = FakeDiscord(
            allow_message_content=cfg.grant_message_content,
            filesize_limit=cfg.upload_limit,
            ack_deadline=ACK_DEADLINE_S if self.enforce_ack else None,
            token_lifetime=TOKEN_LIFETIME_S,
        )
        await local.start()
        try:
            await self._start_page_and_bot(local)
        except BaseException:
            await self.stop()
            raise

    async def _start_page_and_bot(self, local: FakeDiscord) -> None:
        cfg = self.settings.sandbox
        local.add_channel("dreams")
        member = local.add_member(name="alice")
        admin = local.add_member(name="ada", admin=True)
        self.personas = [
            {"id": member["user"]["id"], "name": "Alice", "role": "member"},
            {"id": admin["user"]["id"], "name": "Ada", "role": "admin (Manage Server)"},
        ]
        limits = {
            "ack_deadline": ACK_DEADLINE_S,
            "ack_enforced": self.enforce_ack,
            "token_lifetime": TOKEN_LIFETIME_S,
            "upload_limit": cfg.upload_limit,
            "grant_message_content": cfg.grant_message_content,
        }
        self.bridge = Bridge(local, self.models, self.personas, limits)
        self._check_config()
        self.page = PageServer(local, self.bridge, self.port)
        await self.page.start()
        self.bot_settings = sandbox_settings(
            self.settings,
            api_base=local.api_base,
            gateway_url=local.gateway_url,
            cdn_base=local.cdn_base,
            available=self.models.available,
            store_path=self._store_path(),
        )
        self._task = asyncio.create_task(serve(self.bot_settings, local.token), name="sandbox-bot")
        self._task.add_done_callback(self._bot_done)

    def _store_path(self) -> Path:
        if self.settings.sandbox.store_path:
            return Path(self.settings.sandbox.store_path).expanduser()
        self._tmp = tempfile.TemporaryDirectory(prefix="dreambot-sandbox-")
        return Path(self._tmp.name) / "sandbox.sqlite3"

    def _check_config(self) -> None:
        """Settings that would break on Discord whatever the local Discord does."""
        assert self.bridge is not None
        lifetime = self.settings.discord.token_lifetime_s
        if lifetime > TOKEN_LIFETIME_S:
            self.bridge.rules.note(
                "warn",
                "token",
                f"discord.token_lifetime_s is {lifetime:g} s, but Discord's interaction tokens "
                f"last {TOKEN_LIFETIME_S:g} s: long dreams would fail to post.",
            )

    def _bot_done(self, task: asyncio.Task[int]) -> None:
        if task.cancelled():
            code = 0
        elif task.exception() is not None:
            log.error("the bot stopped with an error", exc_info=task.exception())
            code = 1
        else:
            code = task.result()
        if self.bridge is not None:
            self.bridge.bot_stopped(code)

    async def wait(self) -> int:
        """Until the bot stops (Ctrl-C/SIGTERM are handled by bot.runner.serve); its exit code."""
        assert self._task is not None
        try:
            return await asyncio.shield(self._task)
        except Exception:  # noqa: BLE001 - logged by _bot_done
            return 1

    async def stop(self) -> None:
        """Close the bot (it drains its running dreams), then the page, then the local Discord."""
        if self._task is not None and not self._task.done():
            self._task.cancel()  # serve's `async with bot` closes the bot on the way out
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
        if self.bridge is not None:
            self.bridge.close()
        if self.page is not None:
            await self.page.stop()
        if self.local is not None:
            await self.local.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
