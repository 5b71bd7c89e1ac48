"""`dreambot run`: logging, the token from settings, and the one-time fallback without MESSAGE_CONTENT.

Discord closes the gateway with 4014 when the bot asks for a privileged intent that is not switched
on in the Developer Portal. Rather than dying, the bot says where to switch it on and runs without:
reactions then re-dream only the bot's own results.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import discord

from bot.settings import Settings

log = logging.getLogger("dreambot")

INTENT_HELP = (
    "Discord refused the Message Content intent, so reactions can only re-dream the bot's own "
    "results. To allow reactions on members' images, turn it on in the Developer Portal → your "
    "application → Bot → Privileged Gateway Intents → Message Content, then restart. Continuing without it."
)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"t": self.formatTime(record), "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log.format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log.level.upper())
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))  # its DEBUG is a firehose


def token_of(settings: Settings) -> str | None:
    secret = settings.discord.token
    value = secret.get_secret_value().strip() if secret is not None else ""
    return value or None


async def serve(settings: Settings, token: str, **bot_kwargs: object) -> int:
    """Run until closed; on 4014 with the intent requested, run again once without it."""
    from bot.client import DreamBot

    message_content = settings.discord.message_content_intent
    while True:
        bot = DreamBot(settings, message_content=message_content, **bot_kwargs)  # type: ignore[arg-type]
        try:
            async with bot:
                await bot.start(token)
            return 0
        except discord.PrivilegedIntentsRequired:
            if not message_content:
                log.error("Discord refused a privileged intent the bot does not even ask for; giving up.")
                return 1
            log.warning(INTENT_HELP)
            message_content = False
        except discord.LoginFailure:
            log.error("Discord rejected the token (DREAMBOT_DISCORD__TOKEN); check it in the Developer Portal.")
            return 1


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
