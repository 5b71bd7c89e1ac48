"""What the fake records: requests, uploaded files, interactions and their responses."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .modals import modal_fields


class RecordKeeper(Protocol):
    """What an interaction record asks of the state that keeps it (FakeState)."""

    def emit(self, kind: str, obj: Any) -> None: ...
    def message_view(self, mid: str) -> dict[str, Any] | None: ...
    def expire_token(self, token: str) -> None: ...
    def record_expired(self, rec: InteractionRecord) -> bool: ...
    def dump(self, last: int = 20) -> str: ...
    async def wait_for(self, predicate: Callable[..., Any], timeout: float = 30.0) -> Any: ...


def carries_dream(message: dict | None) -> bool:
    """A recorded message carries a dream file (progress previews, `preview.jpg`, don't count)."""
    attachments = (message or {}).get("attachments") or []
    return any(
        a.get("data") and a["filename"].removeprefix("SPOILER_").startswith("dream.")
        for a in attachments
    )


@dataclass
class UploadedFile:
    """One `files[n]` part of a multipart request."""

    field_name: str
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class RequestRecord:
    """One REST request made by the bot. `path` is relative to the API base
    (`/channels/1/messages`)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any  # the JSON body, or the parsed `payload_json` of a multipart body; None if empty
    files: list[UploadedFile]
    status: int = 0
    response: Any = None
    at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        files = f" files={[f.filename for f in self.files]}" if self.files else ""
        body = repr(self.json)
        if len(body) > 300:
            body = body[:300] + "..."
        return f"<{self.method} {self.path} -> {self.status} json={body}{files}>"


@dataclass
class Callback:
    """One interaction callback (`POST /interactions/{id}/{token}/callback`)."""

    # 1 pong, 4 message, 5 deferred message, 6 deferred update, 7 update, 8 autocomplete, 9 modal
    type: int
    data: dict[str, Any] | None
    files: list[UploadedFile]


class InteractionRecord:
    """An interaction the test injected, and everything the bot answered to it.

    `payload` is the INTERACTION_CREATE data sent. `callbacks` lists the callbacks received.
    `original` / `followups` / `messages` give the *current* state of the response messages
    (message dicts; each attachment also carries its bytes under `data`).
    """

    def __init__(self, state: RecordKeeper, payload: dict[str, Any]):
        self._state = state
        self.payload = payload
        self.id: str = payload["id"]
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.callbacks: list[Callback] = []
        self.dispatched_at = time.monotonic()
        self.ack_latency: float | None = None  # seconds between dispatch and the first callback
        self.original_id: str | None = None  # message id of @original (once there is one)
        self.followup_ids: list[str] = []
        self.choices: list[dict[str, Any]] | None = None  # autocomplete result
        self.modal: dict[str, Any] | None = None
        self._callback_event = asyncio.Event()

    # state -----------------------------------------------------------------
    @property
    def modal_fields(self) -> dict[str, Any]:
        """The modal the bot opened, field by field ({label: prefilled value}); {} if none."""
        return modal_fields(self.modal) if self.modal is not None else {}

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def expired(self) -> bool:
        return self._state.record_expired(self)

    def expire(self) -> None:
        """Make the token behave like one older than 15 minutes."""
        self._state.expire_token(self.token)

    @property
    def original(self) -> dict[str, Any] | None:
        """The current original response message (None before a message response / after delete)."""
        if self.original_id is None:
            return None
        return self._state.message_view(self.original_id)

    @property
    def followups(self) -> list[dict[str, Any]]:
        out = [self._state.message_view(mid) for mid in self.followup_ids]
        return [m for m in out if m is not None]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Original (if any) then followups."""
        first = [self.original] if self.original is not None else []
        return first + self.followups

    def age(self) -> float:
        return time.monotonic() - self.dispatched_at

    # waiting ---------------------------------------------------------------
    def add_callback(self, cb: Callback) -> None:
        if not self.callbacks:
            self.ack_latency = time.monotonic() - self.dispatched_at
        self.callbacks.append(cb)
        self._callback_event.set()
        self._state.emit("interaction", self)

    async def wait_for_callback(self, timeout: float = 10.0) -> Callback:
        """The first callback, waiting for it if needed."""
        try:
            await asyncio.wait_for(self._callback_event.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no callback for interaction {self.id} within {timeout}s\n" + self._state.dump()
            ) from None
        return self.callbacks[0]

    async def wait_until(self, predicate, timeout: float = 30.0) -> Any:
        """Wait until `predicate(record)` is truthy (re-checked on every request); returns its
        value."""
        return await self._state.wait_for(lambda: predicate(self), timeout=timeout)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({"original": self.original, "followups": self.followups})

    def __repr__(self) -> str:
        kinds = [c.type for c in self.callbacks]
        return (
            f"<InteractionRecord id={self.id} type={self.type} callbacks={kinds} "
            f"original={self.original_id}>"
        )
