"""Dream controls end to end: a guide image, a layer mix, `class` with autocomplete, smooth and
original colours; clear one-line refusals; Re-roll and Deeper keep what was used."""

from tests.bot.conftest import (
    E2E,
    ENGINE,
    RunningBot,
    button,
    dream,
    finished_result,
    make_settings,
    png_bytes,
)

pytestmark = E2E


def fields(message: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


def names(message: dict) -> list[str]:
    return [a["filename"] for a in message["attachments"]]


async def refusal(rec) -> str:
    cb = await rec.wait_for_callback(5)
    assert cb.type == 4 and cb.data["flags"] & 64, cb  # ephemeral, before any defer
    return cb.data["content"]


async def test_a_guided_dream_keeps_its_guide_through_reroll_and_deeper(fake, bot):
    alice = fake.add_member(name="alice")
    rec = await fake.slash_command(
        "dream",
        {"octaves": 1, "steps": 2, "size": 64, "smooth": 2, "colors": "original"},
        user=alice,
        attachments={
            "image": ("in.png", png_bytes(80), "image/png"),
            "guide": ("guide.png", png_bytes(72, seed=5), "image/png"),
        },
    )
    first = await finished_result(rec)
    assert names(first)[1:] == ["source.jpg", "guide.jpg"]
    settings = fields(first)["Settings"]
    assert "smooth 2" in settings and "original colours" in settings and "guided" in settings
    for action in ("reroll", "deeper"):
        again = await finished_result(
            await fake.click_button(first, button(first, action), user=alice)
        )
        assert "guide.jpg" in names(again) and "guided" in fields(again)["Settings"]
        assert "smooth 2" in fields(again)["Settings"]


async def test_a_mix_of_layers(fake, bot):
    alice = fake.add_member(name="alice")
    msg = await finished_result(await dream(fake, alice, layer="relu1+relu2:3*0.5"))
    assert fields(msg)["Layer"] == "`relu1+relu2:3*0.5`"


async def test_a_class_with_autocomplete(fake, bot):
    alice = fake.add_member(name="alice")
    choices = await fake.autocomplete("dream", {"class": "bana"}, "class", user=alice)
    assert choices[0]["value"] == "banana"
    msg = await finished_result(await dream(fake, alice, **{"class": "banana"}))
    assert fields(msg)["Class"] == "banana" and "Layer" not in fields(msg)
    again = await finished_result(await fake.click_button(msg, button(msg, "reroll"), user=alice))
    assert fields(again)["Class"] == "banana"  # a re-roll keeps the class, with a new seed
    assert fields(again)["Seed"] != fields(msg)["Seed"]


async def test_clear_one_line_refusals(fake, bot):
    alice = fake.add_member(name="alice")
    text = await refusal(await dream(fake, alice, layer="relu1+relu9"))
    assert "`relu9` in `relu1+relu9`" in text and "\n" not in text
    text = await refusal(await dream(fake, alice, model="vgg16-hed", **{"class": "banana"}))
    assert "no classes to target" in text
    rec = await fake.slash_command(
        "dream",
        {"octaves": 1, "steps": 2, "size": 64},
        user=alice,
        attachments={
            "image": ("in.png", png_bytes(80), "image/png"),
            "guide": ("notes.txt", b"not a picture", "text/plain"),
        },
    )
    assert "The guide isn't an image" in await refusal(rec)
    assert await bot.services.store.jobs() == []


async def test_a_guide_too_thin_for_the_network_is_refused_before_any_job(fake, pool, tmp_path):
    """2048x40 fits a 2048-px dream; as a guide it is taken at 512 px, 512x10, which the network
    can't take ("Output size is too small" in the worker). The bot refuses it up front."""
    wide = make_settings(
        fake, tmp_path / "wide.sqlite3", engine=ENGINE.model_copy(update={"max_side_cap": 2048})
    )
    runner = RunningBot(fake, wide, pool)
    bot = await runner.start()
    try:
        rec = await fake.slash_command(
            "dream",
            {"octaves": 1, "steps": 2, "size": 2048},
            user=fake.add_member(name="alice"),
            attachments={
                "image": ("in.png", png_bytes(80), "image/png"),
                "guide": ("thin.png", png_bytes(2048, height=40), "image/png"),
            },
        )
        text = await rec.wait_until(
            lambda r: next((m["content"] for m in r.messages if m.get("content")), None), 30
        )
        assert text.startswith(
            "The guide image: That image is too small to guide a dream: 2048x40 pixels"
        ), text
        assert "\n" not in text and await bot.services.store.jobs() == []
    finally:
        await runner.stop()
