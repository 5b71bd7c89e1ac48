"""/dream variants:N end to end: N dreams of one image, each another channel of the layer, fetched
once and answered as one Components V2 gallery (bot/gallery.py) whose per-variant buttons dream
that variant alone (from the ledger, or after a wiped database from the gallery's text); priced
N dreams; one Cancel stops them all."""

from localdiscord import buttons_of
from tests.bot.conftest import (
    E2E,
    RunningBot,
    dream,
    finished_result,
    make_settings,
    wait_ledger,
)
from tests.bot.test_e2e_discord import cancel_id

pytestmark = E2E
COMPONENTS_V2 = 1 << 15
CONTAINER, SECTION, TEXT, THUMBNAIL, GALLERY, ROW = 17, 9, 10, 11, 12, 1


def _files(message) -> list[str]:
    return [a["filename"] for a in message["attachments"]]


def _attachment(message, name: str) -> dict:
    return next(a for a in message["attachments"] if a["filename"] == name)


async def _gallery(rec) -> dict:
    """The interaction's reply once it carries the variants' dreams."""
    return await rec.wait_until(
        lambda r: next((m for m in r.messages if any("dream-1." in n for n in _files(m))), None),
        60,
    )


def _parts(message) -> tuple[dict, dict, dict]:
    """The reply's container, its header section and its media gallery."""
    [box] = message["components"]
    header, gallery = box["components"][:2]
    return box, header, gallery


async def test_variants_are_one_gallery_of_different_targets_fetched_once_and_charged_each(
    fake, bot
):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, layer="relu2", variants=3)
    reply = await _gallery(rec)

    # One V2 message: no content, no embeds; three dreams and their one source
    assert reply["flags"] & COMPONENTS_V2 and reply["content"] == "" and reply["embeds"] == []
    assert _files(reply) == ["dream-1.png", "dream-2.png", "dream-3.png", "source.jpg"]
    box, header, gallery = _parts(reply)
    assert (box["type"], header["type"], gallery["type"]) == (CONTAINER, SECTION, GALLERY)
    assert header["accessory"]["type"] == THUMBNAIL  # the source, "before"
    assert header["accessory"]["media"]["url"] == _attachment(reply, "source.jpg")["url"]
    # each gallery item is its file, as Discord resolves attachment:// (the URL it serves)
    for k, item in enumerate(gallery["items"], 1):
        attached = _attachment(reply, f"dream-{k}.png")
        assert item["media"]["url"] == attached["url"]
        assert item["media"]["attachment_id"] == attached["id"] and not item["spoiler"]
    assert len(gallery["items"]) == 3

    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
    )
    assert sum(r.cost for r in rows) == 3  # priced three dreams
    targets = {r.params["layer"] for r in rows}
    assert len(targets) == 3 and all(t.startswith("relu2:") for t in targets)
    text = header["components"][0]["content"]
    assert header["components"][0]["type"] == TEXT and "3 dreams" in text
    by_job = {r.job_id: r for r in rows}
    ids = [b["custom_id"] for b in buttons_of(reply)]
    for k, item in enumerate(gallery["items"], 1):  # variant k: its item, its line, its buttons
        job = next(i for i in ids if i.startswith(f"dream:v{k}:deeper:")).rsplit(":", 1)[1]
        row = by_job[job]
        assert f"`{row.params['layer']}` · seed {row.seed}" in text
        assert row.params["layer"] in item["description"] and str(row.seed) in item["description"]
        assert {f"dream:v{k}:{a}:{job}" for a in ("deeper", "animate", "edit")} <= set(ids)
    assert [i for i in ids if i.startswith("dream:delete:")] == [
        f"dream:delete:{alice['user']['id']}"
    ]
    rows_of_buttons = [c for c in box["components"][2:] if c["type"] == ROW]
    assert len(rows_of_buttons) == 4  # one per variant, and Delete's

    # the input was downloaded once for the three, and the reply is the only message with dreams
    [given] = rec.payload["data"]["resolved"]["attachments"].values()
    assert fake.downloads.count(given["id"]) == 1
    assert len([m for m in fake.messages_in() if m["attachments"]]) == 1
    history = await fake.slash_command("dreams", {}, user=alice)
    lines = [
        line
        for line in (await history.wait_for_callback(5)).data["content"].splitlines()
        if line.startswith("•")
    ]
    assert sorted(t for t in targets if any(f"`{t}`" in line for line in lines)) == sorted(
        targets
    )  # /dreams lists each variant, its target and seed

    delete = next(i for i in ids if i.startswith("dream:delete:"))
    await fake.click_button(reply, delete, user=alice)  # the reply's own Delete: all of it
    await fake.wait_for(lambda: fake.message(reply["id"]) is None, 10)


async def test_a_variants_buttons_dream_that_variant_alone(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    reply = await _gallery(await dream(fake, alice, layer="relu2", variants=2))
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 2 and all(r.status == "done" for r in rows)
    )
    ids = [b["custom_id"] for b in buttons_of(reply)]
    deeper = next(i for i in ids if i.startswith("dream:v2:deeper:"))
    second = next(r for r in rows if r.job_id == deeper.rsplit(":", 1)[1])

    again = await finished_result(await fake.click_button(reply, deeper, user=bob))
    assert fake.downloads[-1] == _attachment(reply, "dream-2.png")["id"]  # variant 2's file
    assert again["embeds"] and not again["flags"] & COMPONENTS_V2  # a single: the classic layout
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
    )
    [new] = [r for r in rows if r.source == "button"]
    assert (new.params["layer"], new.seed) == (second.params["layer"], second.seed)

    edit = next(i for i in ids if i.startswith("dream:v2:edit:"))
    form = await fake.click_button(reply, edit, user=bob)
    assert (await form.wait_for_callback(5)).type == 9  # the form, filled with variant 2's
    assert form.modal_fields["Layer or mix"] == second.params["layer"]
    assert form.modal_fields["Seed"] == str(second.seed)
    edited = await finished_result(
        await fake.submit_modal(form, {"Strength, steps, octaves": "1.5, 3, 1"}, user=bob)
    )
    assert fake.downloads[-1] == _attachment(reply, "source.jpg")["id"]  # its source, dreamed
    assert "changed: steps 2 → 3" in str(edited["embeds"][0])
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 4 and all(r.status == "done" for r in rows)
    )
    [latest] = [r for r in rows if r.source == "button" and r.params["steps"] == 3]
    assert latest.params["layer"] == second.params["layer"] and latest.seed == second.seed


async def test_a_spoilered_variants_reply_hides_every_file(fake, bot):
    alice = fake.add_member(name="alice")
    reply = await _gallery(await dream(fake, alice, variants=2, spoiler=True))
    assert _files(reply) == ["SPOILER_dream-1.png", "SPOILER_dream-2.png", "SPOILER_source.jpg"]
    _, header, gallery = _parts(reply)
    assert all(item["spoiler"] for item in gallery["items"])
    assert header["accessory"]["spoiler"]
    deeper = next(b["custom_id"] for b in buttons_of(reply) if ":deeper:" in b["custom_id"])
    again = await finished_result(await fake.click_button(reply, deeper, user=alice))
    assert _files(again)[0].startswith("SPOILER_")  # a hidden variant's re-dream stays hidden


def _with_text(message, text: str | None) -> list[dict]:
    """The reply's components with its text replaced by `text`, or gone (None): its header
    section dropped, the gallery and the buttons kept."""
    box = _parts(message)[0]
    _header, *rest = box["components"]
    words = [] if text is None else [{"type": TEXT, "content": text}]
    return [{**box, "components": [*words, *rest]}]


async def test_after_a_wiped_ledger_a_variant_is_what_its_gallery_shows(fake, pool, tmp_path):
    runner = RunningBot(fake, make_settings(fake, tmp_path / "before.sqlite3"), pool)
    bot = await runner.start()
    alice = fake.add_member(name="alice")
    reply = await _gallery(await dream(fake, alice, layer="relu2", variants=2, smooth=2))
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 2 and all(r.status == "done" for r in rows)
    )
    await runner.stop()

    runner = RunningBot(fake, make_settings(fake, tmp_path / "wiped.sqlite3"), pool)
    bot = await runner.start()
    try:
        ids = [b["custom_id"] for b in buttons_of(reply)]
        deeper = next(i for i in ids if i.startswith("dream:v2:deeper:"))
        second = next(r for r in rows if r.job_id == deeper.rsplit(":", 1)[1])
        again = await finished_result(await fake.click_button(reply, deeper, user=alice))
        assert fake.downloads[-1] == _attachment(reply, "dream-2.png")["id"]  # variant 2's file
        assert again["embeds"] and "smooth 2" in str(again["embeds"][0])
        [new] = await wait_ledger(
            bot, lambda rows: len(rows) == 1 and rows[0].status == "done"
        )  # the wiped ledger knows this dream only
        assert (new.params["layer"], new.seed) == (second.params["layer"], second.seed)
        # all that /dream set, as the gallery shows it; the tile size, which no settings line
        # carries, is left to the engine's default (as for a result read from its embed)
        unlisted = {"tile_size": None}
        assert new.params == {**second.params, **unlisted} and second.params["tile_size"]

        edit = next(i for i in ids if i.startswith("dream:v2:edit:"))
        form = await fake.click_button(reply, edit, user=alice)
        assert (await form.wait_for_callback(5)).type == 9  # the form, filled from the text
        assert form.modal_fields["Layer or mix"] == second.params["layer"]
        assert form.modal_fields["Seed"] == str(second.seed)

        # a gallery whose text is gone, or is not ours: nothing tells the variant's settings
        text = _parts(reply)[1]["components"][0]["content"]
        for shown in (None, text.replace("### DeepDream", "### Another bot")):
            fake.state.edit_message(reply["id"], {"components": _with_text(reply, shown)}, [])
            for action in ("deeper", "edit"):
                cid = next(i for i in ids if i.startswith(f"dream:v1:{action}:"))
                rec = await fake.click_button(reply, cid, user=alice)
                cb = await rec.wait_for_callback(5)
                assert cb.type == 4 and cb.data["flags"] & 64, action  # ephemeral, not a dream
                assert "records may have been reset" in cb.data["content"]
                assert "\n" not in cb.data["content"]
        assert len(await bot.services.store.jobs()) == 1  # nothing reserved for those
        assert not fake.errors
    finally:
        await runner.stop()


async def test_one_cancel_stops_every_variant(fake, bot, gate):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(96), octaves=2, steps=2, variants=3)
    line = await rec.wait_until(
        lambda r: r.original if r.original and "octave" in r.original["content"] else None, 30
    )  # the first variant waits at the gate; the others wait in the queue
    rows = await wait_ledger(bot, lambda rows: len(rows) == 3)  # all three submitted at once
    await fake.click_button(line, cancel_id(line), user=alice)
    ended = await rec.wait_until(
        lambda r: (
            r.original
            if r.original
            and r.original["content"].count("ancelled") == 3
            and r.original["content"].startswith("Variant 1:")
            else None
        ),
        30,
    )
    assert not _files(ended) and not ended.get("components")
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 3 and all(r.status == "cancelled" for r in rows)
    )
    assert all(r.cost == 0 for r in rows)  # each refunded
    await finished_result(await dream(fake, alice))  # the worker is free again


async def test_variants_are_refused_whole_when_the_quota_has_room_for_fewer(fake, bot):
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    rec = await fake.slash_command(
        "quota set", {"scope": "user", "user": alice, "daily": 2}, user=admin
    )
    await rec.wait_for_callback(5)
    rec = await dream(fake, alice, variants=3)
    cb = await rec.wait_for_callback(5)
    assert cb.type == 4 and cb.data["flags"] & 64  # refused up front, in one ephemeral line
    assert await bot.services.store.jobs() == []
