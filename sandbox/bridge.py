"""From the local Discord's change feed to the page: a snapshot when a page connects, then one
event per change, in order (every progress edit included, so none is lost between two looks).

Events: snapshot, message (created or changed), delete, interaction, commands, bot, notice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from localdiscord import FakeDiscord
from sandbox.models import ModelReport
from sandbox.rules import Rules
from sandbox.view import (
    bot_view,
    commands_view,
    interaction_view,
    message_view,
    world_view,
)

HISTORY = 30  # versions of a message kept for the page (progress edits)


class Bridge:
    def __init__(
        self,
        local: FakeDiscord,
        models: ModelReport,
        personas: list[dict[str, Any]],
        limits: dict[str, Any],
    ) -> None:
        self.local, self.models, self.personas, self.limits = local, models, personas, limits
        self.rules = Rules(local, self.publish, ack_deadline=limits["ack_deadline"])
        self.subscribers: set[asyncio.Queue[str | None]] = set()
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.logged_in = self.synced = False
        self.bot_exit: int | None = None  # the bot's exit code, once it stopped
        self._bot: dict[str, Any] | None = None
        self._unlisten = local.listen(self._on_change)

    def close(self) -> None:
        self._unlisten()
        self.rules.close()
        for queue in self.subscribers:
            queue.put_nowait(None)

    # --- subscribers (one per open page) --------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        queue.put_nowait(json.dumps(self.snapshot()))
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self.subscribers.discard(queue)

    def publish(self, event: dict[str, Any]) -> None:
        text = json.dumps(event)
        for queue in self.subscribers:
            queue.put_nowait(text)

    # --- what the page sees ----------------------------------------------------------------------

    def message(self, msg: dict[str, Any]) -> dict[str, Any]:
        view = message_view(self.local, msg)
        view["history"] = self.history.get(msg["id"], [])
        return view

    def bot(self) -> dict[str, Any]:
        view = bot_view(self.local, logged_in=self.logged_in, synced=self.synced)
        if self.bot_exit is not None:
            view["phase"], view["exit_code"] = "stopped", self.bot_exit
        return view

    def snapshot(self) -> dict[str, Any]:
        state = self.local.state
        messages = [
            self.message(state.messages[mid])
            for ids in state.channel_messages.values()
            for mid in ids
            if mid in state.messages
        ]
        return {
            "type": "snapshot",
            "world": world_view(self.local),
            "personas": self.personas,
            "bot": self.bot(),
            "commands": commands_view(self.local),
            "messages": messages,
            "interactions": [interaction_view(r) for r in self.local.interactions.values()],
            "notices": self.rules.notices,
            "models": self.models.to_json(),
            "limits": self.limits,
        }

    def bot_stopped(self, code: int) -> None:
        self.bot_exit = code
        self._publish_bot()

    # --- the change feed -------------------------------------------------------------------------

    def _on_change(self, kind: str, obj: Any) -> None:
        if kind == "message":
            self._remember(obj)
        elif kind == "request":
            self.logged_in |= obj.path == "/users/@me"
            self.synced |= obj.method == "PUT" and obj.path.endswith("/commands")
        live = bool(self.subscribers)  # no page open: nothing to build (a page starts afresh)
        if live:
            self._publish_change(kind, obj)
        self.rules.on_change(kind, obj)
        if live and kind in ("request", "gateway"):
            self._publish_bot()

    def _publish_change(self, kind: str, obj: Any) -> None:
        if kind == "message":
            self.publish({"type": "message", "message": self.message(obj)})
        elif kind == "delete":
            self.publish({"type": "delete", "id": obj["id"], "channel_id": obj["channel_id"]})
        elif kind == "interaction":
            self.publish({"type": "interaction", "interaction": interaction_view(obj)})
        elif kind == "commands":
            self.publish({"type": "commands", "commands": commands_view(self.local)})

    def _publish_bot(self) -> None:
        view = self.bot()
        if view != self._bot:
            self._bot = view
            self.publish({"type": "bot", "bot": view})

    def _remember(self, msg: dict[str, Any]) -> None:
        """Keep each distinct version (text and files) of a message: its progress edits."""
        version = {
            "content": msg.get("content", ""),
            "files": [a["filename"] for a in msg.get("attachments", [])],
        }
        versions = self.history.setdefault(msg["id"], [])
        if not versions or versions[-1] != version:
            versions.append(version)
            del versions[:-HISTORY]
