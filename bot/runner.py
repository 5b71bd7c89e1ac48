"""`dreambot run`: logging, the token from settings, SIGTERM/SIGINT, and the one-time fallback
without MESSAGE_CONTENT.

SIGTERM (docker stop) and SIGINT close the bot, which drains the pool (running dreams finish and
are posted, queued ones are refunded) before disconnecting; then the process exits 0.

Discord closes the gateway with 4014 when the bot asks for a privileged intent that is not switched
on in the Developer Portal. Rather than dying, the bot says where to switch it on and runs without:
reactions then re-dream only the bot's own results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import aiohttp
import discord

from bot.client import DreamBot
from bot.logs import setup_logging, token_of
from bot.settings import Settings
from dreamcore.errors import DreamError
from dreamcore.pool import DreamBackend

log = logging.getLogger("dreambot")

INTENT_HELP = (
    "Discord refused the Message Content intent, so reactions can only re-dream the bot's own "
    "results. To allow reactions on members' images, turn it on in the Developer Portal → your "
    "application → Bot → Privileged Gateway Intents → Message Content, then restart. "
    "Continuing without it."
)


__all__ = ["INTENT_HELP", "run_bot", "serve", "setup_logging", "token_of"]


class _Shutdown:
    """Closes the running bot on SIGTERM/SIGINT (once; later signals only log)."""

    def __init__(self) -> None:
        self.requested = False
        self.bot: DreamBot | None = None
        self.task: asyncio.Task[None] | None = None

    def __call__(self, signame: str) -> None:
        if self.requested:
            log.warning("%s: already shutting down (draining running dreams)", signame)
            return
        self.requested = True
        log.info("%s: shutting down; running dreams are finished first", signame)
        if self.bot is not None:
            self.task = asyncio.get_running_loop().create_task(self.bot.close())

    async def wait(self) -> None:
        """Let a signal-started close finish (its last steps run after bot.start() returned)."""
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task


@contextlib.contextmanager
def _signals(shutdown: _Shutdown) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, shutdown, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def serve(settings: Settings, token: str, *, backend: DreamBackend | None = None) -> int:
    """Run until closed (or SIGTERM/SIGINT); on 4014 with the intent requested, run again once
    without it. A `backend` passed in is used (and left open) instead of starting one."""
    message_content = settings.discord.message_content_intent
    shutdown = _Shutdown()
    with _signals(shutdown):
        while not shutdown.requested:
            bot = DreamBot(settings, message_content=message_content, backend=backend)
            shutdown.bot = bot
            try:
                async with bot:
                    await bot.start(token)
                return 0
            except discord.PrivilegedIntentsRequired:
                if not message_content:
                    log.error(
                        "Discord refused a privileged intent the bot does not even ask for; "
                        "giving up."
                    )
                    return 1
                log.warning(INTENT_HELP)
                message_content = False
            except discord.LoginFailure:
                log.error(
                    "Discord rejected the token (DREAMBOT_DISCORD__TOKEN); "
                    "check it in the Developer Portal."
                )
                return 1
            except DreamError as err:  # e.g. the workers could not load their weights
                log.error("Could not start: %s", err)
                return 1
            except (aiohttp.ClientConnectionError, OSError) as err:
                where = settings.discord.api_base or "Discord"
                log.error(
                    "Could not reach %s (%s); check the network and discord.api_base.", where, err
                )
                return 1
            finally:
                await shutdown.wait()
                shutdown.bot = None
    return 0


def run_bot(settings: Settings) -> int:
    setup_logging(settings)
    token = token_of(settings)
    if token is None:
        log.error("No Discord token: set the environment variable DREAMBOT_DISCORD__TOKEN.")
        return 2
    try:
        return asyncio.run(serve(settings, token))
    except KeyboardInterrupt:
        return 0
