"""The sandbox page's server without a browser: state, events, and each member action turned into
what Discord would send the real bot (which answers, through the local Discord)."""

from __future__ import annotations

import json

import aiohttp
import pytest_asyncio

from localdiscord import modals
from tests.bot.conftest import E2E, FAST, button, png_bytes
from tests.sandbox.v2 import IS_COMPONENTS_V2, edit_as_bot, post_as_bot, post_gallery

pytestmark = E2E


def form(**fields) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, tuple):
            data.add_field(name, value[1], filename=value[0], content_type=value[2])
        else:
            data.add_field(name, value if isinstance(value, str) else json.dumps(value))
    return data


@pytest_asyncio.fixture(loop_scope="module")
async def http(sandbox):
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


def persona(sandbox, role: str) -> str:
    return next(p["id"] for p in sandbox.personas if p["role"].startswith(role))


async def test_the_page_and_its_scripts_are_served(http):
    async with http.get("/") as resp:
        assert resp.status == 200 and 'src="/static/app.js"' in await resp.text()
    for name in ("app.js", "commands.js", "render.js", "style.css"):
        async with http.get(f"/static/{name}") as resp:
            assert resp.status == 200, name


async def test_state_holds_what_the_bot_synced_and_who_can_act(http, sandbox):
    async with http.get("/api/state") as resp:
        state = await resp.json()
    names = {c["name"] for c in state["commands"]}
    assert {"dream", "quota", "dreamconfig", "Dream this image"} <= names
    dream = next(c for c in state["commands"] if c["name"] == "dream")
    octaves = next(o for o in dream["options"] if o["name"] == "octaves")
    assert (octaves["min_value"], octaves["max_value"]) == (1, 8)
    assert [p["name"] for p in state["personas"]] == ["Alice", "Ada"]
    assert state["bot"]["phase"] == "online" and state["bot"]["message_content"]
    assert state["models"]["available"] == ["tiny"]
    assert state["limits"]["upload_limit"] == 10 * 1024 * 1024


async def test_events_start_with_a_snapshot_then_follow_changes(http, sandbox):
    alice = persona(sandbox, "member")
    async with http.get("/api/events") as stream:
        first = json.loads((await stream.content.readline()).decode().removeprefix("data: "))
        assert first["type"] == "snapshot"
        async with http.post("/api/message", data=form(user=alice, content="hello")) as resp:
            assert resp.status == 200
        while True:
            line = (await stream.content.readline()).decode()
            if line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                if event["type"] == "message":
                    break
    assert event["message"]["content"] == "hello"
    assert event["message"]["author"]["name"] == "Alice"


async def test_a_slash_command_with_an_image_dreams_and_keeps_its_progress_edits(http, sandbox):
    alice = persona(sandbox, "member")
    data = form(
        user=alice,
        name="dream",
        options=FAST,
        **{"option:image": ("in.png", png_bytes(), "image/png")},
    )
    async with http.post("/api/command", data=data) as resp:
        assert resp.status == 200
        iid = (await resp.json())["interaction"]
    rec = sandbox.local.interactions[iid]
    msg = await rec.wait_until(
        lambda r: next((m for m in r.messages if m["embeds"] and m["attachments"]), None), 60
    )
    view = sandbox.bridge.message(msg)
    assert view["embeds"][0]["image"]["url"].startswith("/attachments/")
    actions = {c["custom_id"].split(":")[1] for c in view["components"][0]["components"]}
    assert {"deeper", "reroll", "delete"} <= actions  # the buttons, whatever else the bot adds
    statuses = [v["content"] for v in view["history"]]
    assert any("Queued" in s or "Dreaming" in s for s in statuses), statuses
    async with http.get(view["embeds"][0]["image"]["url"]) as resp:
        assert resp.status == 200 and resp.content_type.startswith("image/")


async def test_autocomplete_is_answered_by_the_bot(http, sandbox):
    body = {
        "user": persona(sandbox, "member"),
        "name": "dream",
        "options": {"layer": "relu"},
        "focused": "layer",
    }
    async with http.post("/api/autocomplete", json=body) as resp:
        choices = (await resp.json())["choices"]
    assert [c["value"] for c in choices] == ["relu1", "relu2", "relu3"]


async def test_user_options_are_sent_with_the_member_resolved(http, sandbox):
    ada, alice = persona(sandbox, "admin"), persona(sandbox, "member")
    options = {"scope": "user", "user": alice, "daily": 7}
    async with http.post(
        "/api/command", data=form(user=ada, name="quota set", options=options)
    ) as r:
        iid = (await r.json())["interaction"]
    rec = sandbox.local.interactions[iid]
    msg = await rec.wait_until(lambda r: r.original, 20)
    assert "daily 7" in msg["content"] and f"<@{alice}>" in msg["content"]
    assert sandbox.bridge.message(msg)["ephemeral"]


async def test_an_upload_over_the_limit_is_refused_as_discord_would(http, sandbox):
    big = ("big.png", b"\0" * (sandbox.local.state.filesize_limit + 1), "image/png")
    data = form(user=persona(sandbox, "member"), file0=big)
    async with http.post("/api/message", data=data) as resp:
        assert resp.status == 413 and "Discord would refuse" in (await resp.json())["error"]
    assert sandbox.bridge.rules.notices[-1]["rule"] == "upload"


async def test_expiring_a_token_is_shown_and_enforced(http, sandbox):
    alice = persona(sandbox, "member")
    async with http.post("/api/command", data=form(user=alice, name="quota me")) as resp:
        iid = (await resp.json())["interaction"]
    rec = sandbox.local.interactions[iid]
    await rec.wait_for_callback(20)
    async with http.post("/api/expire-token", json={"interaction_id": iid}) as resp:
        assert resp.status == 200
    assert rec.expired
    notice = sandbox.bridge.rules.notices[-1]
    assert notice["rule"] == "token" and notice["interaction_id"] == iid


async def test_only_this_page_may_drive_the_sandbox(http, sandbox):
    async with http.post("/api/reaction", json={}, headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403
    async with http.get("/api/state", headers={"Host": "rebound.example"}) as resp:
        assert resp.status == 403


async def test_an_uploaded_page_is_served_as_a_download_never_as_a_page(http, sandbox):
    # as text/html from the page's own origin, its script could drive the sandbox through /api
    page = ("x.html", b"<script>fetch('/api/state')</script>", "text/html")
    async with http.post(
        "/api/message", data=form(user=persona(sandbox, "member"), file0=page)
    ) as r:
        [att] = sandbox.local.message((await r.json())["id"])["attachments"]
    async with http.get(f"/attachments/{att['id']}/x.html") as resp:
        assert resp.status == 200 and resp.content_type == "application/octet-stream"
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_bad_requests_are_plain_errors(http, sandbox):
    async with http.post("/api/button", json={"user": "1", "message_id": "2"}) as resp:
        assert resp.status == 400 and "no member" in (await resp.json())["error"]
    body = {"user": persona(sandbox, "member"), "message_id": "2", "emoji": "🌀"}
    async with http.post("/api/reaction", json=body) as resp:
        assert resp.status == 404


async def _dream(http, sandbox, user: str) -> dict:
    """A finished /dream by `user` (the message with the dream and its buttons)."""
    data = form(
        user=user,
        name="dream",
        options=FAST,
        **{"option:image": ("in.png", png_bytes(), "image/png")},
    )
    async with http.post("/api/command", data=data) as resp:
        rec = sandbox.local.interactions[(await resp.json())["interaction"]]
    return await rec.wait_until(
        lambda r: next((m for m in r.messages if m["embeds"] and m["components"]), None), 60
    )


async def test_a_components_v2_message_shows_its_media_from_this_page(http, sandbox):
    sent = await post_gallery(sandbox.local, 2)
    view = sandbox.bridge.message(sandbox.local.message(sent["id"]))
    assert view["v2"] and view["content"] == "" and view["embeds"] == []
    [container] = view["components"]
    [gallery] = [c for c in container["components"] if c["type"] == 12]
    urls = [item["media"]["url"] for item in gallery["items"]]
    assert urls == [a["url"] for a in view["attachments"]]  # attachment://name, made the page's
    for url in urls:
        async with http.get(url) as resp:
            assert resp.status == 200 and resp.content_type == "image/png"
    # URLs Discord already resolved work too
    resolved = sent["attachments"][1]["url"]
    assert resolved.startswith("http://127.0.0.1:")
    items = [{"media": {"url": resolved}}]
    await edit_as_bot(sandbox.local, sent["id"], {"components": [{"type": 12, "items": items}]})
    stored = sandbox.local.message(sent["id"])
    view = sandbox.bridge.message(stored)
    assert [i["media"]["url"] for i in view["components"][0]["items"]] == [urls[1]]
    # an attachment the message lacks (Discord, and so the local Discord, refuses to store one:
    # the page must still not guess) is no URL at all
    gone = [{"type": 12, "items": [{"media": {"url": "attachment://gone.png"}}]}]
    view = sandbox.bridge.message({**stored, "components": gone})
    assert [i["media"]["url"] for i in view["components"][0]["items"]] == [""]
    plain = await post_as_bot(sandbox.local, {"content": "a classic message"}, [])
    assert not sandbox.bridge.message(sandbox.local.message(plain["id"]))["v2"]


async def test_a_choice_in_a_select_reaches_the_bot_as_discord_sends_it(http, sandbox):
    select = {
        "type": 3,
        "custom_id": "test-v2:pick",
        "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
    }
    payload = {"flags": IS_COMPONENTS_V2, "components": [{"type": 1, "components": [select]}]}
    sent = await post_as_bot(sandbox.local, payload, [])
    body = {
        "user": persona(sandbox, "member"),
        "message_id": sent["id"],
        "custom_id": "test-v2:pick",
        "values": ["b"],
    }
    async with http.post("/api/select", json=body) as resp:
        rec = sandbox.local.interactions[(await resp.json())["interaction"]]
    assert rec.type == 3 and rec.payload["message"]["id"] == sent["id"]
    assert rec.payload["data"] == {
        "custom_id": "test-v2:pick",
        "component_type": 3,
        "values": ["b"],
    }
    async with http.post("/api/select", json={**body, "values": "b"}) as resp:
        assert resp.status == 400


async def test_a_form_the_bot_opens_is_shown_and_submitted_as_discord_would(http, sandbox):
    ada, alice = persona(sandbox, "admin"), persona(sandbox, "member")
    result = await _dream(http, sandbox, ada)
    body = {"user": ada, "message_id": result["id"], "custom_id": button(result, "edit")}
    async with http.post("/api/button", json=body) as resp:
        opened = sandbox.local.interactions[(await resp.json())["interaction"]]
    assert (await opened.wait_for_callback(20)).type == 9
    view = sandbox.bridge.snapshot()["interactions"]
    modal = next(i for i in view if i["id"] == opened.id)["modal"]
    fields = {i["name"]: i for i in modal["items"] if i["kind"] == "field"}
    assert list(fields) == list(opened.modal_fields)
    numbers = fields["Strength, steps, octaves"]["component"]
    assert numbers["value"].endswith(", 2, 1") and numbers["required"]

    async def submit(user: str, values: dict) -> tuple[int, dict]:
        body = {"user": user, "interaction_id": opened.id, "values": values}
        async with http.post("/api/modal", json=body) as resp:
            return resp.status, await resp.json()

    assert await submit(alice, {}) == (403, {"error": "that form was opened by someone else"})
    status, answer = await submit(ada, {"Strength, steps, octaves": ""})  # required
    assert status == 400 and "required" in answer["error"]
    changes = {"Strength, steps, octaves": numbers["value"].replace(", 2, 1", ", 3, 1")}
    status, answer = await submit(ada, changes)
    assert status == 200
    sent = sandbox.local.interactions[answer["interaction"]]
    assert sent.type == 5 and sent.payload["data"] == modals.modal_submit_data(
        opened.modal, changes
    )
    edited = await sent.wait_until(
        lambda r: next((m for m in r.messages if m["embeds"] and m["attachments"]), None), 60
    )
    notes = " ".join(f["value"] for f in edited["embeds"][0]["fields"])
    assert "changed: steps 2 → 3" in notes
    view = sandbox.bridge.message(edited)
    assert view["interaction"]["kind"] == "modal"
