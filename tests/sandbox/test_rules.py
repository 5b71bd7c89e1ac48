"""Discord's rules as the sandbox reports them, fed the local Discord's records directly (no bot):
each case waits on the notice it expects, never on the clock."""

from __future__ import annotations

import asyncio

import pytest

from localdiscord import FakeDiscord, InteractionRecord, RequestRecord, UploadedFile, inject
from sandbox.rules import Rules


class Watch:
    """Rules wired to a local Discord; `next()` waits for the next notice."""

    def __init__(self, local: FakeDiscord, deadline: float) -> None:
        self.local = local
        self.queue: asyncio.Queue[dict] = asyncio.Queue()
        self.rules = Rules(local, self._publish, ack_deadline=deadline)
        local.listen(self.rules.on_change)

    def _publish(self, event: dict) -> None:
        self.queue.put_nowait(event["notice"])

    async def next(self) -> dict:
        return await asyncio.wait_for(self.queue.get(), 10)

    def interaction(self, name: str = "dream") -> InteractionRecord:
        user = self.local.add_member(name="alice")
        payload = inject.interaction_base(self.local.state, 2, user)
        payload["data"] = {"id": "1", "name": name, "type": 1, "options": []}
        rec = InteractionRecord(self.local.state, payload)
        self.local.state.interactions[rec.id] = rec
        self.local.state.emit("interaction", rec)
        return rec

    def request(self, method: str, path: str, status: int, body=None, files=()) -> None:
        rec = RequestRecord(method, path, {}, None, list(files), status=status, response=body)
        self.local.state.emit("request", rec)


@pytest.fixture
async def watch():
    async with FakeDiscord() as local:
        w = Watch(local, deadline=0.05)
        yield w
        w.rules.close()


async def test_an_interaction_nobody_answers_is_reported_after_the_deadline(watch):
    rec = watch.interaction("dream")
    notice = await watch.next()
    assert notice["rule"] == "ack" and notice["level"] == "error"
    assert "/dream" in notice["text"] and "did not respond" in notice["text"]
    assert notice["interaction_id"] == rec.id


async def test_a_late_answer_is_an_error_and_a_close_one_a_warning(watch):
    from localdiscord import Callback

    late = watch.interaction()
    watch.rules.ack_deadline = 3.0  # judge by the recorded latency below, not by a timer
    late.dispatched_at -= 3.5
    late.add_callback(Callback(5, None, []))
    notice = await watch.next()
    assert notice["level"] == "error" and "after 3.5 s" in notice["text"]
    close = watch.interaction()
    close.dispatched_at -= 2.5
    close.add_callback(Callback(5, None, []))
    notice = await watch.next()
    assert notice["level"] == "warn" and "close to Discord's 3 s" in notice["text"]


async def test_an_answer_in_time_says_nothing(watch):
    from localdiscord import Callback

    rec = watch.interaction()
    rec.add_callback(Callback(5, None, []))
    watch.request("PATCH", "/channels/1/messages/2", 403, {"code": 50005, "message": "nope"})
    notice = await watch.next()  # the next notice is the later request's, not the interaction's
    assert notice["rule"] == "api" and "403 nope" in notice["text"]


async def test_an_upload_over_the_limit(watch):
    big = UploadedFile("files[0]", "dream.png", "image/png", b"\0" * (11 * 1024 * 1024))
    body = {"code": 40005, "message": "Request entity too large"}
    watch.request("POST", "/webhooks/1/tok", 413, body, [big])
    notice = await watch.next()
    assert notice["rule"] == "upload" and "11.0 MiB (dream.png)" in notice["text"]
    assert "10.0 MiB" in notice["text"]


async def test_a_webhook_call_with_an_expired_token(watch):
    rec = watch.interaction("dream")
    watch.local.expire_token(rec.token)
    body = {"code": 50027, "message": "Invalid Webhook Token"}
    watch.request("PATCH", f"/webhooks/1/{rec.token}/messages/@original", 401, body)
    notice = await watch.next()
    assert notice["rule"] == "token" and "15 minutes" in notice["text"]
    assert notice["interaction_id"] == rec.id


async def test_a_callback_refused_for_lateness(watch):
    rec = watch.interaction("dream")
    missed = await watch.next()  # the timer's notice comes first
    assert missed["rule"] == "ack"
    body = {"code": 10062, "message": "Unknown interaction"}
    watch.request("POST", f"/interactions/{rec.id}/{rec.token}/callback", 404, body)
    notice = await watch.next()
    assert notice["rule"] == "ack" and "10062" not in notice["text"]
    assert "Unknown interaction" in notice["text"] and notice["interaction_id"] == rec.id


async def test_a_refused_message_content_intent(watch):
    watch.local.gateway.close_codes.append(4014)
    watch.local.state.emit("gateway", "close")
    notice = await watch.next()
    assert notice["rule"] == "intent" and "4014" in notice["text"]
    assert "Developer Portal" in notice["text"]
