"""A Components V2 message posted through the local Discord's REST API, as the bot would post one
(`payload_json` + `files[n]`, its own token): a container with a heading, a gallery of the
uploaded images (`attachment://` media), a section with a button beside its text, and a row of
buttons."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from localdiscord import FakeDiscord
from tests.bot.conftest import png_bytes

IS_COMPONENTS_V2 = 1 << 15
TITLE = "Variants of your dream"
SECTION_TEXT = "Channel 97 of mixed4c, seed 7"
ACCENT = 0x5865F2


def gallery_message(names: list[str], *, prefix: str = "test-v2") -> dict[str, Any]:
    """The payload: one gallery item per file (the last one a spoiler), buttons whose custom_ids
    start with `prefix`."""
    items = [
        {"media": {"url": f"attachment://{name}"}, "description": f"variant {i + 1}"}
        for i, name in enumerate(names)
    ]
    items[-1]["spoiler"] = True
    return {
        "flags": IS_COMPONENTS_V2,
        "components": [
            {
                "type": 17,
                "accent_color": ACCENT,
                "components": [
                    {"type": 10, "content": f"## {TITLE}\n**{len(names)}** dreams of one image"},
                    {"type": 12, "items": items},
                    {"type": 14, "divider": True, "spacing": 1},
                    {
                        "type": 9,
                        "components": [{"type": 10, "content": SECTION_TEXT}],
                        "accessory": {
                            "type": 2,
                            "style": 1,
                            "label": "Edit",
                            "custom_id": f"{prefix}:edit",
                        },
                    },
                    {
                        "type": 1,
                        "components": [
                            {
                                "type": 2,
                                "style": 2,
                                "label": "Deeper",
                                "emoji": {"name": "🌀"},
                                "custom_id": f"{prefix}:deeper",
                            },
                            {
                                "type": 2,
                                "style": 4,
                                "label": "Delete",
                                "custom_id": f"{prefix}:delete",
                                "disabled": True,
                            },
                        ],
                    },
                ],
            }
        ],
    }


async def post_as_bot(
    local: FakeDiscord, payload: dict[str, Any], files: list[tuple[str, bytes]]
) -> dict[str, Any]:
    """POST /channels/{channel}/messages with the bot's token; the message Discord answers."""
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    for i, (name, data) in enumerate(files):
        form.add_field(f"files[{i}]", data, filename=name, content_type="application/octet-stream")
    url = f"{local.api_base}/channels/{local.channel['id']}/messages"
    headers = {"Authorization": f"Bot {local.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def post_gallery(local: FakeDiscord, count: int = 3) -> dict[str, Any]:
    """A gallery of `count` noisy PNGs (dream-1.png, ...), as the bot's variants would come."""
    names = [f"dream-{i + 1}.png" for i in range(count)]
    files = [(name, png_bytes(96, seed=i)) for i, name in enumerate(names)]
    return await post_as_bot(local, gallery_message(names), files)


async def edit_as_bot(local: FakeDiscord, message_id: str, payload: dict[str, Any]) -> None:
    """PATCH /channels/{channel}/messages/{id} with the bot's token (JSON: no new files)."""
    url = f"{local.api_base}/channels/{local.channel['id']}/messages/{message_id}"
    headers = {"Authorization": f"Bot {local.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.patch(url, json=payload, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
