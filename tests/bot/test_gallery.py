"""bot.gallery: the reply to variants as a Components V2 layout: its text, its media (each an
attached file), each variant's buttons, and Discord's bounds on a V2 message."""

import re

import discord

from bot import gallery
from bot.buttons import VariantButton, gallery_view
from bot.gallery import Gallery, Shown
from dreamcore.request import make_params
from tests.helpers import dream_result

JOBS = ["0123456789a" + str(k) for k in range(1, 5)]


def _shown(k: int, *, frames: int = 1, filename: str | None = None) -> Shown:
    params = make_params(model="tiny", layer=f"relu2:{k}", seed=100 + k, max_side=64)
    result = dream_result(seed=100 + k, target=f"relu2:{k}", frames=frames, seconds=0.4)
    return Shown(k, JOBS[k - 1], filename or f"dream-{k}.png", params, result, 0.0)


def _tree(view: discord.ui.LayoutView) -> list[dict]:
    """Every component of the view as sent, nested ones included."""
    out: list[dict] = []

    def visit(component: dict) -> None:
        out.append(component)
        for child in component.get("components", []):
            visit(child)
        if "accessory" in component:
            visit(component["accessory"])

    for top in view.to_components():
        visit(top)
    return out


def test_four_variants_are_one_container_within_discords_bounds():
    reply = Gallery(42, tuple(_shown(k) for k in range(1, 5)), source="source.jpg")
    view = gallery_view(reply)
    [box] = view.to_components()
    tree = _tree(view)
    assert box["type"] == 17 and len(tree) == 23 <= 40  # 40: a V2 message's components
    assert view.has_components_v2()
    header, media = box["components"][:2]
    assert header["type"] == 9 and header["accessory"]["media"]["url"] == "attachment://source.jpg"
    assert [i["media"]["url"] for i in media["items"]] == [
        f"attachment://dream-{k}.png" for k in range(1, 5)
    ]
    assert media["items"][1]["description"] == "Variant 2: relu2:2 · seed 102"
    words = header["components"][0]["content"]
    assert len(words) <= gallery.TEXT_LIMIT and "Cost: 4 dreams" in words
    assert "**3** · `relu2:3` · seed 103" in words and "<@42>" in words


def test_each_variants_buttons_name_its_job_and_number():
    reply = Gallery(42, (_shown(1), _shown(2, frames=8)), source=None)
    tree = _tree(gallery_view(reply))
    ids = [c["custom_id"] for c in tree if c["type"] == 2]
    assert ids == [
        f"dream:v1:deeper:{JOBS[0]}",
        f"dream:v1:animate:{JOBS[0]}",
        f"dream:v1:edit:{JOBS[0]}",
        f"dream:v2:deeper:{JOBS[1]}",  # an animation: no Animate
        f"dream:v2:edit:{JOBS[1]}",
        "dream:delete:42",
    ]
    template = VariantButton.__discord_ui_compiled_template__
    for cid in ids[:-1]:
        assert len(cid) <= 100 and template.fullmatch(cid)
    labels = [c["label"] for c in tree if c["type"] == 2]
    assert labels[:3] == ["Deeper 1", "Animate 1", "Edit 1"]


def test_without_its_source_the_header_is_text_and_names_no_missing_file():
    reply = Gallery(
        42, (_shown(1), _shown(2)), failures=("Variant 3: failed",), notes=("left out",)
    )
    tree = _tree(gallery_view(reply))
    urls = [m for c in tree for m in re.findall(r"attachment://[^'\"]+", str(c))]
    assert set(urls) == {"attachment://dream-1.png", "attachment://dream-2.png"}
    [header] = [c for c in tree if c["type"] == 10]
    assert "Not dreamed: Variant 3: failed" in header["content"]
    assert "-# left out" in header["content"]


def test_a_hidden_reply_spoils_every_item_and_the_thumbnail():
    hidden = Gallery(
        42,
        (_shown(1, filename="SPOILER_dream-1.png"), _shown(2, filename="SPOILER_dream-2.png")),
        source="SPOILER_source.jpg",
        spoiler=True,
    )
    tree = _tree(gallery_view(hidden))
    media = [c for c in tree if c["type"] in (11, 12)]
    assert all(c["spoiler"] for c in media if c["type"] == 11)
    items = next(c for c in media if c["type"] == 12)["items"]
    assert [i["spoiler"] for i in items] == [True, True]
    assert items[0]["media"]["url"] == "attachment://SPOILER_dream-1.png"


async def test_from_custom_id_rebuilds_a_variants_button():
    template = VariantButton.__discord_ui_compiled_template__
    match = re.fullmatch(template, f"dream:v3:edit:{JOBS[2]}")
    item = await VariantButton.from_custom_id(None, None, match)
    assert (item.action, item.index, item.job_id) == ("edit", 3, JOBS[2])
