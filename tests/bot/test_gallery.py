"""bot.gallery: the reply to variants as a Components V2 layout: its text, its media (each an
attached file), each variant's buttons, and Discord's bounds on a V2 message; its text read back
(a variant's params when the ledger doesn't know them)."""

import re
from types import SimpleNamespace

import discord
import pytest

from bot import gallery, layout
from bot.buttons import VariantButton, gallery_view
from bot.gallery import Gallery, Shown
from dreamcore.errors import InvalidParams
from dreamcore.request import DreamParams, make_params
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


# --- read back ----------------------------------------------------------------------------------

# Shared settings as /dream gives them (what the variants of one reply share: bot.params.variants)
# with what varies by variant: a layer's channels, a mix, a class.
SHARED = [
    {},
    {"octaves": 2, "steps": 3, "strength": 0.75, "jitter": 0, "max_side": 96},
    {"smooth": 4, "colors": "original"},
    {"smooth": 8, "strength": 2.25, "colors": "original", "max_side": 4096},
    {"animate": "zoom", "frames": 24, "frame_steps": 3, "fps": 8, "zoom": 1.05, "output": "gif"},
    {"animate": "spin", "frames": 2, "rotate": -2.5, "fps": 30, "output": "mp4"},
    {"animate": "pan", "frames": 40, "pan": -12, "frame_steps": 1},
    {"frames": 30},  # an animated upload, at most 30 of its frames
]
TARGETS = [
    [{"layer": "relu2:3"}, {"layer": "relu2:0"}, {"layer": "relu2:7"}],
    [{"layer": "relu1+relu3:5*0.5"}, {"layer": "relu1+relu3:5*0.5"}],  # a mix: by seed
    [{"target_class": "banana"}, {"target_class": "pay-phone"}],  # ImageNet's spelling
    [{"layer": "relu3", "guided": True}, {"layer": "relu3", "guided": True}],
]


def _reply(shared: dict, targets: list[dict], model: str = "tiny") -> Gallery:
    shown = []
    for k, target in enumerate(targets, 1):
        params = make_params(model=model, seed=1000 * k + 7, **shared, **target)
        result = dream_result(model=model, seed=params.seed, target=params.target, seconds=1.5)
        shown.append(Shown(k, JOBS[k - 1], f"dream-{k}.png", params, result, 3.0))
    return Gallery(42, tuple(shown), source="source.jpg", notes=("a note",))


@pytest.mark.parametrize("shared", SHARED)
@pytest.mark.parametrize("targets", TARGETS)
def test_each_variants_params_read_back_from_the_text_as_written(shared, targets):
    reply = _reply(shared, targets)
    words = gallery.text(reply)
    for shown in reply.shown:
        assert gallery.variant_params(words, shown.index) == shown.params, shown.index
    assert gallery.variant_params(words, len(targets) + 1) is None  # no such variant


def test_the_round_trip_keeps_all_that_the_settings_line_carries_on_another_model():
    shared = {"octaves": 3, "steps": 12, "strength": 1.25, "jitter": 16, "smooth": 2}
    targets = [{"layer": "inception4c:17"}, {"layer": "inception4c+inception4d:139*0.25"}]
    reply = _reply(shared, targets, model="googlenet")
    assert [gallery.variant_params(gallery.text(reply), k) for k in (1, 2)] == [
        shown.params for shown in reply.shown
    ]


def test_the_text_loses_only_what_an_embeds_settings_line_loses():
    # octave scale, tile size, the temporal mode and blend, and asked-for WebP: their defaults,
    # as an embed read back gets (bot.layout.params_from_embed); frames left to the motion read
    # back as the motion's count, the same animation
    unlisted = {"octave_scale": 1.8, "tile_size": 128, "temporal": "blend", "blend": 0.5}
    reply = _reply({**unlisted, "output": "webp", "animate": "zoom"}, [{"layer": "relu2:1"}])
    [shown] = reply.shown
    back = gallery.variant_params(gallery.text(reply), 1)
    embed = layout.result_embed(
        shown.result, shown.params, requester_id=42, job_id=JOBS[0], queue_s=0.0
    )
    assert back == layout.params_from_embed(embed)
    assert back == shown.params.model_copy(
        update={
            **{k: DreamParams.model_fields[k].default for k in unlisted},
            "output": None,
            "frames": 16,
        }
    )


def test_a_text_that_does_not_show_the_variant_reads_as_nothing():
    words = gallery.text(_reply({}, TARGETS[0]))
    lines = words.splitlines()
    assert gallery.variant_params(words.removeprefix("### "), 1) is None  # not our heading
    without_shared = "\n".join(line for line in lines if not line.startswith("Dreamed for"))
    assert gallery.variant_params(without_shared, 1) is None
    without_second = "\n".join(line for line in lines if not line.startswith("**2**"))
    assert gallery.variant_params(without_second, 2) is None
    assert gallery.variant_params(without_second, 3) is not None
    edited = words.replace("seed 2007", "seed two")
    assert gallery.variant_params(edited, 2) is None
    assert gallery.variant_params("", 1) is None


def test_what_the_text_shows_but_the_params_refuse_is_one_line_as_for_an_embed():
    words = gallery.text(_reply({}, TARGETS[0])).replace("`relu2:0`", "`relu9:0`")
    with pytest.raises(InvalidParams) as refused:
        gallery.variant_params(words, 2)
    assert "\n" not in str(refused.value)


def test_the_text_is_found_in_a_received_message_with_or_without_its_thumbnail():
    """As discord.py parses a received V2 message (discord/components.py): a Container whose
    children are a SectionComponent (TextDisplay + Thumbnail) or a bare TextDisplay, a
    MediaGalleryComponent and ActionRows."""
    for source in ("source.jpg", None):
        reply = Gallery(42, (_shown(1), _shown(2)), source=source)
        payload = gallery_view(reply).to_components()
        message = SimpleNamespace(
            components=[discord.components._component_factory(c) for c in payload]
        )
        assert isinstance(message.components[0], discord.Container)
        assert gallery.text_of(message) == gallery.text(reply)
        assert gallery.variant_params(gallery.text_of(message), 2) == reply.shown[1].params


def test_a_message_without_our_text_has_none():
    foreign = discord.components._component_factory(
        {"type": 17, "components": [{"type": 10, "content": "### Another bot · 2 variants"}]}
    )
    assert gallery.text_of(SimpleNamespace(components=[foreign])) is None
    assert gallery.text_of(SimpleNamespace(components=[])) is None
