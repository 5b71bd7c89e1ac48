"""Components V2 messages through the fake, as Discord takes them: the IS_COMPONENTS_V2 flag with
no content or embeds (else 400 in Discord's error shape), nested components stored with their
`attachment://` media resolved to the uploaded files, and buttons clicked wherever they nest."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import discord
import pytest

from localdiscord import FakeDiscord, buttons_of

from ._testbot import PNG, get

pytestmark = pytest.mark.timeout(30)
V2 = 1 << 15


def _row(*custom_ids: str, disabled: bool = False) -> dict[str, Any]:
    return {
        "type": 1,
        "components": [
            {"type": 2, "style": 2, "label": c, "custom_id": c, "disabled": disabled}
            for c in custom_ids
        ],
    }


def _gallery(*names: str) -> dict[str, Any]:
    return {"type": 12, "items": [{"media": {"url": f"attachment://{n}"}} for n in names]}


def _container(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 17, "components": list(children)}


async def _post(
    fake: FakeDiscord,
    payload: dict[str, Any],
    files: tuple[str, ...] = (),
    *,
    method: str = "POST",
    message_id: str = "",
) -> tuple[int, Any]:
    """Create (or PATCH `message_id`) in the default channel, as the bot: multipart when files."""
    url = f"{fake.api_base}/channels/{fake.channel['id']}/messages"
    url += f"/{message_id}" if message_id else ""
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        if files:
            form = aiohttp.FormData()
            spec = [{"id": i, "filename": n} for i, n in enumerate(files)]
            form.add_field("payload_json", json.dumps({**payload, "attachments": spec}))
            for i, name in enumerate(files):
                form.add_field(f"files[{i}]", PNG, filename=name)
            request = http.request(method, url, data=form)
        else:
            request = http.request(method, url, json=payload)
        async with request as response:
            return response.status, await response.json()


def _error_code(body: dict[str, Any], *path: str) -> str:
    """The sub-code Discord puts at `path` of an Invalid Form Body answer."""
    node = body["errors"]
    for key in path:
        node = node[key]
    return node["_errors"][0]["code"]


async def test_a_v2_message_is_stored_with_its_media_resolved_to_its_files(fake_discord) -> None:
    fake = fake_discord
    payload = {
        "flags": V2,
        "components": [
            _container({"type": 10, "content": "two dreams"}, _gallery("a.png", "b.png"))
        ],
    }
    status, sent = await _post(fake, payload, ("a.png", "b.png", "source.png"))
    assert status == 200 and sent["flags"] & V2 and sent["content"] == ""
    [box] = sent["components"]
    text, gallery = box["components"]
    by_name = {a["filename"]: a for a in sent["attachments"]}
    for item, name in zip(gallery["items"], ("a.png", "b.png"), strict=True):
        media = item["media"]  # as Discord answers: the attachment's own, not attachment://
        assert (
            media["url"] == by_name[name]["url"] and media["attachment_id"] == by_name[name]["id"]
        )
        assert (media["width"], media["height"], media["content_type"]) == (3, 2, "image/png")
    ids = [box["id"], text["id"], gallery["id"]]
    assert ids == sorted(set(ids)) and all(isinstance(i, int) for i in ids)  # numbered in order
    assert fake.message(sent["id"])["components"] == sent["components"]  # stored as returned


@pytest.mark.parametrize(
    ("legacy", "field"), [({"content": "hi"}, "content"), ({"embeds": [{"title": "x"}]}, "embeds")]
)
async def test_content_or_embeds_beside_the_flag_are_refused(fake_discord, legacy, field) -> None:
    fake = fake_discord
    payload = {"flags": V2, "components": [_container({"type": 10, "content": "t"})], **legacy}
    status, body = await _post(fake, payload)
    assert status == 400 and (body["code"], body["message"]) == (50035, "Invalid Form Body")
    code = _error_code(body, field)
    assert code == "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"
    assert fake.messages_in() == []


async def test_media_naming_a_file_not_uploaded_is_refused_and_nothing_is_stored(
    fake_discord,
) -> None:
    fake = fake_discord
    payload = {"flags": V2, "components": [_container(_gallery("a.png", "gone.png"))]}
    status, body = await _post(fake, payload, ("a.png",))
    assert status == 400 and body["code"] == 50035
    assert _error_code(body, "components", "0", "components", "0", "items", "1", "media", "url")
    assert fake.messages_in() == [] and fake.state.attachments == {}


async def test_more_than_40_components_or_layout_without_the_flag_is_refused(fake_discord) -> None:
    fake = fake_discord
    many = [_container(*[{"type": 10, "content": str(i)} for i in range(40)])]  # 41 with its box
    status, body = await _post(fake, {"flags": V2, "components": many})
    assert status == 400 and _error_code(body, "components")
    status, body = await _post(fake, {"components": [_container({"type": 10, "content": "t"})]})
    assert status == 400 and _error_code(body, "components", "0", "type")
    assert fake.messages_in() == []


async def test_a_message_becomes_v2_by_an_edit_that_clears_its_content_and_stays_v2(
    fake_discord,
) -> None:
    fake = fake_discord
    _, status_line = await _post(fake, {"content": "Variant 1: octave 1/2"})
    upgrade = {"content": None, "embeds": [], "flags": V2, "components": [_container(_row("x"))]}
    status, edited = await _post(fake, upgrade, method="PATCH", message_id=status_line["id"])
    assert status == 200 and edited["flags"] & V2 and edited["content"] == ""
    # a V2 message takes no content later, and its flag cannot be taken off
    status, body = await _post(
        fake, {"content": "back"}, method="PATCH", message_id=status_line["id"]
    )
    assert status == 400 and _error_code(body, "content")
    status, _ = await _post(fake, {"flags": 0}, method="PATCH", message_id=status_line["id"])
    stored = fake.message(status_line["id"])
    assert stored["flags"] & V2 and stored["content"] == "" and stored["components"]


async def test_click_finds_a_button_nested_anywhere_and_only_one_that_is_shown(running) -> None:
    fake, _, _ = running  # the bot has no view for these ids: it lets the clicks go
    section = {
        "type": 9,
        "components": [{"type": 10, "content": "beside"}],
        "accessory": {"type": 2, "style": 1, "label": "In a section", "custom_id": "acc"},
    }
    payload = {
        "flags": V2,
        "components": [_container(section, _row("a", "b")), _row("off", disabled=True)],
    }
    _, sent = await _post(fake, payload)
    assert [b["custom_id"] for b in buttons_of(sent)] == ["acc", "a", "b", "off"]
    alice = fake.add_member(name="alice")
    for custom_id in ("acc", "b"):
        rec = await fake.click_button(sent, custom_id, user=alice)
        data = rec.payload["data"]
        assert (data["custom_id"], data["component_type"]) == (custom_id, 2)
        assert data["id"] == next(b["id"] for b in buttons_of(sent) if b["custom_id"] == custom_id)
        assert rec.payload["message"]["flags"] & V2
    with pytest.raises(AssertionError, match="no button 'gone'"):
        await fake.click_button(sent, "gone", user=alice)
    with pytest.raises(AssertionError, match="disabled"):
        await fake.click_button(sent, "off", user=alice)


async def test_a_real_bot_sends_a_layout_view_and_gets_its_nested_button_clicks(running) -> None:
    fake, bot, events = running
    clicked: list[str] = []

    async def pressed(interaction: discord.Interaction) -> None:
        clicked.append(interaction.data["custom_id"])
        await interaction.response.defer()
        events.buttons.put_nowait(interaction.data["custom_id"])

    deeper = discord.ui.Button(label="Deeper 1", custom_id="v1:deeper")
    deeper.callback = pressed
    layout = discord.ui.LayoutView(timeout=None)
    layout.add_item(
        discord.ui.Container(
            discord.ui.TextDisplay("a gallery"),
            discord.ui.MediaGallery(discord.MediaGalleryItem("attachment://dream-1.png")),
            discord.ui.ActionRow(deeper),
        )
    )
    channel = bot.get_channel(int(fake.channel["id"]))
    sent = await channel.send(view=layout, file=discord.File(io.BytesIO(PNG), "dream-1.png"))
    assert sent.flags.components_v2 and sent.content == "" and not sent.embeds
    [container] = sent.components  # discord.py reads the stored tree back
    gallery = container.children[1]
    assert gallery.items[0].media.url == sent.attachments[0].url
    stored = fake.message(sent.id)
    rec = await fake.click_button(stored, "v1:deeper", user=fake.add_member(name="bo"))
    assert await get(events.buttons) == "v1:deeper" and clicked == ["v1:deeper"]
    assert (await rec.wait_for_callback(5)).type == 6
