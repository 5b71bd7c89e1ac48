"""Discord's rules, checked as they happen, so an operator sees in the sandbox what would break on
Discord: the 3-second acknowledgement, the 15-minute interaction token, the upload limit, the
privileged Message Content intent, and any request Discord would refuse.

Fed by the local Discord's change feed (interactions, answered requests, gateway events); each
finding becomes a notice that the page lists and shows beside the message it concerns.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from typing import Any

from localdiscord import FakeDiscord, InteractionRecord, RequestRecord
from localdiscord.gateway import MESSAGE_CONTENT
from sandbox.view import command_path

ACK_DEADLINE_S = 3.0  # Discord: answer (or defer) an interaction within 3 s
ACK_WARN_S = 2.0  # closer than this to the deadline is worth a warning
TOKEN_LIFETIME_S = 900.0  # Discord: an interaction token works for 15 minutes
_CALLBACK = re.compile(r"^/interactions/(?P<iid>[^/]+)/[^/]+/callback$")
_WEBHOOK = re.compile(r"^/webhooks/[^/]+/(?P<token>[^/]+)")


def mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


class Rules:
    def __init__(
        self,
        local: FakeDiscord,
        publish: Callable[[dict[str, Any]], None],
        *,
        ack_deadline: float = ACK_DEADLINE_S,
    ) -> None:
        self.local, self.publish, self.ack_deadline = local, publish, ack_deadline
        self.notices: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._judged: set[str] = set()  # interactions whose acknowledgement was assessed
        self._identifies = 0  # identifies already looked at
        self._closes = 0

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def note(self, level: str, rule: str, text: str, **refs: str | None) -> dict[str, Any]:
        """Record a notice (level: info | warn | error) and send it to the page."""
        notice = {"id": next(self._ids), "level": level, "rule": rule, "text": text, **refs}
        self.notices.append(notice)
        self.publish({"type": "notice", "notice": notice})
        return notice

    def on_change(self, kind: str, obj: Any) -> None:
        if kind == "interaction":
            self._interaction(obj)
        elif kind == "request":
            self._request(obj)
        elif kind == "gateway":
            self._gateway()

    # --- the 3-second acknowledgement ---------------------------------------------------------

    def _what(self, rec: InteractionRecord) -> str:
        name = command_path(rec)
        if rec.type == 3:
            return f"the button `{name}`"
        if rec.type == 4:
            return f"autocomplete of /{name}"
        return f"/{name}" if (rec.payload.get("data") or {}).get("type", 1) == 1 else f"“{name}”"

    def _interaction(self, rec: InteractionRecord) -> None:
        if rec.id in self._judged:
            return
        if not rec.acknowledged:
            if rec.id not in self._timers:
                loop = asyncio.get_running_loop()
                self._timers[rec.id] = loop.call_later(self.ack_deadline, self._missed, rec)
            return
        self._judged.add(rec.id)
        timer = self._timers.pop(rec.id, None)
        if timer is not None:
            timer.cancel()
        latency = rec.ack_latency or 0.0
        if latency > self.ack_deadline:
            self.note(
                "error",
                "ack",
                f"{self._what(rec)} was answered after {latency:.1f} s. Discord allows "
                f"{self.ack_deadline:g} s: it would refuse the answer and show “The application "
                "did not respond”.",
                interaction_id=rec.id,
            )
        elif latency > ACK_WARN_S:
            self.note(
                "warn",
                "ack",
                f"{self._what(rec)} was answered in {latency:.1f} s, close to Discord's "
                f"{self.ack_deadline:g} s limit.",
                interaction_id=rec.id,
            )

    def _missed(self, rec: InteractionRecord) -> None:
        self._timers.pop(rec.id, None)
        if rec.acknowledged or rec.id in self._judged:
            return
        self._judged.add(rec.id)
        self.note(
            "error",
            "ack",
            f"No answer to {self._what(rec)} within {self.ack_deadline:g} s. Discord shows “The "
            "application did not respond” and drops the interaction (the bot must reply or defer "
            "within 3 s).",
            interaction_id=rec.id,
        )

    # --- refused requests: uploads, tokens, late callbacks, anything else ---------------------

    def _request(self, rq: RequestRecord) -> None:
        if rq.status < 400:
            return
        body = rq.response if isinstance(rq.response, dict) else {}
        code, message = body.get("code"), body.get("message", "")
        refused = f"refused ({rq.status} {message})"
        callback = _CALLBACK.match(rq.path)
        webhook = _WEBHOOK.match(rq.path)
        if rq.status == 413:
            total = sum(f.size for f in rq.files)
            names = ", ".join(f.filename for f in rq.files)
            self.note(
                "error",
                "upload",
                f"The bot uploaded {mib(total)} ({names}) in one message; the upload limit here "
                f"is {mib(self.local.state.filesize_limit)}: {refused}.",
            )
        elif callback and code == 10062:
            rec = self.local.interactions.get(callback["iid"])
            what = self._what(rec) if rec else "an interaction"
            age = f" after {rec.age():.1f} s" if rec else ""
            self.note(
                "error",
                "ack",
                f"The bot answered {what}{age}; Discord allows {self.ack_deadline:g} s: {refused}.",
                interaction_id=rec.id if rec else None,
            )
        elif webhook and rq.status == 401:
            rec = self.local.state.interaction_by_token(webhook["token"])
            what = self._what(rec) if rec else "an interaction"
            self.note(
                "error",
                "token",
                f"The bot used the token of {what} after it expired (interaction tokens last 15 "
                f"minutes): {refused}. It should post in the channel instead.",
                interaction_id=rec.id if rec else None,
            )
        elif code == 40060:
            self.note("error", "ack", f"The bot answered an interaction twice: {refused}.")
        elif "localdiscord" in message:
            self.note("warn", "sandbox", f"{rq.method} {rq.path}: {message}")
        else:
            self.note("warn", "api", f"{rq.method} {rq.path} was {refused}.")

    # --- the privileged Message Content intent ------------------------------------------------

    def _gateway(self) -> None:
        gateway = self.local.gateway
        for code in gateway.close_codes[self._closes :]:
            if code == 4014:
                self.note(
                    "error",
                    "intent",
                    "Discord refused the privileged Message Content intent (close code 4014): it "
                    "is not switched on in the Developer Portal (Bot → Privileged Gateway "
                    "Intents). The bot goes on without it.",
                )
        self._closes = len(gateway.close_codes)
        if not gateway.ready.is_set():
            return
        for identify in gateway.identifies[self._identifies :]:
            if not int(identify.get("intents", 0)) & MESSAGE_CONTENT:
                self.note(
                    "info",
                    "intent",
                    "The bot runs without the Message Content intent: members' messages reach it "
                    "without their images, so 🌀 on a member's image does nothing. Reactions on "
                    "the bot's own results and “Dream this image” still work.",
                )
        self._identifies = len(gateway.identifies)
