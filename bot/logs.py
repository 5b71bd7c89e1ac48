"""Logging for `dreambot run`: text or JSON lines on stderr, with the Discord token redacted.

`setup_logging(settings)` installs one handler on the root logger. A `RedactSecrets` filter on that
handler rewrites every record that reaches it (message, args, exception and stack text) so the
token, and anything shaped like a Discord bot token, never reaches the output, even when a library
logs it. The formatters redact their final line once more (extras, odd objects) as a backstop.

Structured fields: pass `extra={"job": {...}}` (or any other extra key); the JSON formatter puts
extras in the object, the text formatter ignores them (the message already says it in words).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import IO, Any

REDACTED = "[REDACTED]"
# base64(user id) . base64(timestamp) . HMAC: e.g. MTIz...Njc4.GaBcDe.abc...89AB
TOKEN_SHAPE = re.compile(
    r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,8}\.[A-Za-z0-9_-]{25,}(?![A-Za-z0-9_-])"
)
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


class Redactor:
    """Replaces the given secrets and anything token-shaped with [REDACTED]."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return TOKEN_SHAPE.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """Handler filter: rewrites the record in place so no handler after it sees a secret either."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - bad args: let the formatter report it, but redact msg
            record.msg = self.redact(str(record.msg))
        else:
            clean = self.redact(message)
            if clean != message or not isinstance(record.msg, str):
                record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra={...}` fields of a record."""
    return {
        k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")
    }


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: t, level, logger, msg, extras (e.g. job), exc."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "t": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return self.redact(json.dumps(out, ensure_ascii=False, default=str))


def token_of(settings: Any) -> str | None:
    secret = settings.discord.token
    value = secret.get_secret_value().strip() if secret is not None else ""
    return value or None


class _CurrentStderr(logging.StreamHandler):
    """Writes to `sys.stderr` as it is when a record comes, not as it was at setup (as logging's
    own last-resort handler does): whoever swapped stderr in between (a test's capture, a
    daemon's redirect) and closed the old one must not make every later log line fail."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass  # StreamHandler.__init__ sets it; the property always answers the current one


def setup_logging(settings: Any, stream: IO[str] | None = None) -> logging.Handler:
    """Replace the root handlers with one redacting handler (stderr unless `stream`); return it."""
    redact = Redactor([t for t in (token_of(settings),) if t])
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    handler.setFormatter(
        JsonFormatter(redact) if settings.log.format == "json" else TextFormatter(redact)
    )
    handler.addFilter(RedactSecrets(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log.level.upper())
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))  # its DEBUG is a firehose
    logging.captureWarnings(True)
    return handler
