"""The local Discord's change feed (every change, in order, for the sandbox page) and its optional
interaction-token lifetime (Discord: 15 minutes)."""

from __future__ import annotations

import pytest

from ._testbot import get

pytestmark = pytest.mark.timeout(30)


async def test_every_change_is_fed_in_order(running) -> None:
    fake, _, _ = running
    seen: list[tuple[str, object]] = []
    stop = fake.listen(lambda kind, obj: seen.append((kind, obj)))
    rec = await fake.slash_command("ping", user=fake.add_member(name="alice"))
    await rec.wait_until(lambda r: r.original and r.original["content"] == "pong", 5)
    stop()
    kinds = [kind for kind, _ in seen]
    assert kinds.index("interaction") < kinds.index("message")  # dispatched, then answered
    mid = rec.original_id
    versions = [dict(o)["content"] for k, o in seen if k == "message" and o["id"] == mid]
    assert versions[-1] == "pong" and len(versions) >= 2  # "thinking", then the followup's edit
    answered = [o for k, o in seen if k == "interaction" and o is rec]
    assert len(answered) >= 2 and answered[-1].acknowledged
    assert any(k == "request" and o.path.endswith("/callback") for k, o in seen)
    n = len(seen)
    await fake.user_message(author=fake.add_member(name="bob"), content="after")
    assert len(seen) == n  # stopped listening


async def test_a_listener_that_fails_does_not_break_the_fake(running, caplog) -> None:
    fake, _, _ = running

    def broken(kind, obj):
        raise RuntimeError("watcher bug")

    fake.listen(broken)
    msg = await fake.user_message(author=fake.add_member(name="carol"), content="still works")
    assert fake.message(msg["id"])["content"] == "still works"
    assert "listener failed" in caplog.text


async def test_tokens_older_than_the_lifetime_are_refused(running) -> None:
    fake, _, events = running
    fake.state.token_lifetime = 900.0
    rec = await fake.slash_command("late", user=fake.add_member(name="dave"))
    await rec.wait_for_callback(5)
    assert not rec.expired
    rec.dispatched_at -= 901  # fifteen minutes and a second later
    assert rec.expired
    events.proceed.set()
    err = await get(events.errors)
    assert err.status == 401 and err.code == 50027
