"""Interaction callbacks and the interaction webhook (followups, @original edits).

Rules mirrored from Discord: a callback is accepted once (else 400 40060); after
`defer(thinking=True)` the original is a "loading" message and the first followup replaces it; an
expired token answers every webhook call with 401 50027; callbacks for an expired interaction answer
404 10062.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from . import payloads as P
from .body import FakeError, unknown
from .records import Callback, InteractionRecord, RequestRecord

if TYPE_CHECKING:
    from .rest import Rest

MESSAGE_TYPES = {2: 20, 3: 0, 5: 0}  # interaction type -> type of the original response message


class Webhooks:
    def __init__(self, rest: Rest):
        self.rest, self.state, self.gateway = rest, rest.state, rest.gateway
        add = functools.partial(rest.router.add, bot_token=False)  # the path's token authorises
        add("POST", "/interactions/{iid}/{token}/callback", self.callback)
        add("POST", "/webhooks/{app}/{token}", self.followup)
        add("GET", "/webhooks/{app}/{token}/messages/{mid}", self.get_message)
        add("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self.edit_message)
        add("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self.delete_message)

    # helpers --------------------------------------------------------------
    def _record(self, app: str, token: str) -> InteractionRecord:
        rec = self.state.interaction_by_token(token)
        if rec is None or self.state.record_expired(rec) or app != self.state.application_id:
            raise FakeError(401, 50027, "Invalid Webhook Token")
        return rec

    def _new_message(
        self,
        rec: InteractionRecord,
        payload: dict[str, Any],
        files: list,
        *,
        original: bool,
        flags: int | None = None,
    ) -> dict[str, Any]:
        p = rec.payload
        meta = {
            "id": rec.id,
            "type": rec.type,
            "user": p["member"]["user"] if "member" in p else p["user"],
            "authorizing_integration_owners": p.get("authorizing_integration_owners", {}),
        }
        if rec.type == 2:
            meta["name"] = p["data"]["name"]
            meta["command_type"] = p["data"].get("type", 1)
        if not original and rec.original_id:
            meta["original_response_message_id"] = rec.original_id
        if flags is not None:
            payload = {**payload, "flags": flags}
        msg = self.state.create_message(
            p["channel_id"],
            self.state.bot_user,
            payload,
            files,
            type=MESSAGE_TYPES.get(rec.type, 0) if original else 0,
            webhook_id=self.state.application_id,
            application_id=self.state.application_id,
            interaction_metadata=meta,
        )
        return msg

    async def _announce(self, event: str, msg: dict[str, Any]) -> None:
        # ephemeral messages, and anything where the bot is not, never reach its gateway
        if (
            msg["flags"] & P.MESSAGE_FLAG_EPHEMERAL
            or msg["channel_id"] in self.state.foreign_channels
        ):
            return
        await self.gateway.dispatch(event, msg)

    def _target(self, rec: InteractionRecord, mid: str) -> dict[str, Any]:
        target = rec.original_id if mid == "@original" else mid
        if (
            target is None
            or (target != rec.original_id and target not in rec.followup_ids)
            or target not in self.state.messages
        ):
            raise unknown("Message", 10008)
        return self.state.messages[target]

    # callback -------------------------------------------------------------
    async def callback(self, rq: RequestRecord, iid: str, token: str) -> tuple[int, Any]:
        st = self.state
        rec = st.interactions.get(iid)
        if rec is None or rec.token != token or st.record_expired(rec):
            raise unknown("interaction", 10062)
        if rec.acknowledged:
            raise FakeError(400, 40060, "Interaction has already been acknowledged.")
        if st.ack_deadline is not None and rec.age() > st.ack_deadline:
            raise unknown("interaction", 10062)
        body = rq.json or {}
        kind, data = int(body.get("type", 0)), body.get("data") or {}
        flags = int(data.get("flags") or 0)
        msg: dict[str, Any] | None = None
        if kind == 4:
            msg = self._new_message(rec, data, rq.files, original=True)
            rec.original_id = msg["id"]
        elif kind == 5:
            loading = P.MESSAGE_FLAG_LOADING | (flags & P.MESSAGE_FLAG_EPHEMERAL)
            msg = self._new_message(rec, {}, [], original=True, flags=loading)
            rec.original_id = msg["id"]
        elif kind in (6, 7):
            if rec.type not in (3, 5) or "message" not in rec.payload:
                raise FakeError(
                    400, 50035, "Invalid Form Body: update types need a component interaction"
                )
            rec.original_id = rec.payload["message"]["id"]
            if kind == 7 and rec.original_id in st.messages:
                msg = st.edit_message(rec.original_id, data, rq.files)
                await self._announce("MESSAGE_UPDATE", msg)
        elif kind == 8:
            rec.choices = data.get("choices", [])
        elif kind == 9:
            rec.modal = data
        elif kind != 1:
            raise FakeError(400, 50035, f"Invalid Form Body: unknown callback type {kind}")
        if kind in (4, 5) and msg is not None:
            await self._announce("MESSAGE_CREATE", msg)
        rec.add_callback(Callback(kind, body.get("data"), list(rq.files)))
        if rq.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        interaction: dict[str, Any] = {"id": rec.id, "type": rec.type}
        resource: dict[str, Any] = {"type": kind}
        if msg is not None:
            interaction.update(
                response_message_id=msg["id"],
                response_message_loading=bool(msg["flags"] & P.MESSAGE_FLAG_LOADING),
                response_message_ephemeral=bool(msg["flags"] & P.MESSAGE_FLAG_EPHEMERAL),
            )
            resource["message"] = P.public(msg)
        return 200, {"interaction": interaction, "resource": resource}

    # webhook ---------------------------------------------------------------
    async def followup(self, rq: RequestRecord, app: str, token: str) -> tuple[int, Any]:
        rec = self._record(app, token)
        if not rec.acknowledged:
            raise unknown("Webhook", 10015)
        payload = rq.json or {}
        original = self.state.messages.get(rec.original_id or "")
        if original is not None and original["flags"] & P.MESSAGE_FLAG_LOADING:
            # the first followup after a thinking defer replaces the loading message
            keep = original["flags"] & P.MESSAGE_FLAG_EPHEMERAL
            edit = {
                **payload,
                "flags": keep | (int(payload.get("flags") or 0) & ~P.MESSAGE_FLAG_EPHEMERAL),
            }
            msg = self.state.edit_message(original["id"], edit, rq.files)
            msg["edited_timestamp"] = None
            await self._announce("MESSAGE_UPDATE", msg)
        else:
            msg = self._new_message(rec, payload, rq.files, original=False)
            rec.followup_ids.append(msg["id"])
            await self._announce("MESSAGE_CREATE", msg)
        if rq.query.get("wait") in ("1", "true", "True"):
            return 200, P.public(msg)
        return 204, None

    async def get_message(
        self, rq: RequestRecord, app: str, token: str, mid: str
    ) -> tuple[int, Any]:
        return 200, P.public(self._target(self._record(app, token), mid))

    async def edit_message(
        self, rq: RequestRecord, app: str, token: str, mid: str
    ) -> tuple[int, Any]:
        msg = self._target(self._record(app, token), mid)
        msg = self.state.edit_message(msg["id"], rq.json or {}, rq.files)
        await self._announce("MESSAGE_UPDATE", msg)
        return 200, P.public(msg)

    async def delete_message(
        self, rq: RequestRecord, app: str, token: str, mid: str
    ) -> tuple[int, Any]:
        msg = self._target(self._record(app, token), mid)
        self.state.delete_message(msg["id"])
        if not msg["flags"] & P.MESSAGE_FLAG_EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_DELETE", P.message_deleted(msg))
        return 204, None
