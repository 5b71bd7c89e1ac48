"""The Edit form end to end: the Edit button opens a modal filled with the dream's recorded
settings; submitting it dreams the same source with the changes (the result says what changed);
a bad value is answered in one line and nothing is reserved or charged."""

from tests.bot.conftest import E2E, button, dream, finished_result, wait_ledger

pytestmark = E2E

NUMBERS, SEED, SMOOTH, COLOURS, LAYER = (
    "Strength, steps, octaves",
    "Seed",
    "Smooth",
    "Colours",
    "Layer or mix",
)


async def _open_form(fake, result, user):
    rec = await fake.click_button(result, button(result, "edit"), user=user)
    cb = await rec.wait_for_callback(5)
    assert cb.type == 9, cb  # MODAL
    return rec


def _notes(message) -> str:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}.get("Notes", "")


async def test_edit_opens_the_dreams_settings_and_dreams_the_source_with_the_changes(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    first = await finished_result(await dream(fake, alice, seed=7, layer="conv1"))
    [row] = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    form = await _open_form(fake, first, bob)
    assert form.modal_fields == {
        LAYER: "conv1",
        NUMBERS: "1.5, 2, 1",  # /dream's strength, and the tests' fast steps and octaves
        SEED: "7",
        SMOOTH: ["0"],
        COLOURS: ["dream"],
    }
    assert len(await bot.services.store.jobs()) == 1  # opening the form reserves nothing

    sent = await fake.submit_modal(
        form, {NUMBERS: "1.5, 3, 1", SMOOTH: ["2"], COLOURS: ["original"]}, user=bob
    )
    edited = await finished_result(sent)
    assert "changed: steps 2 → 3, smooth 0 → 2, colors dream → original" in _notes(edited)
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 2 and all(r.status == "done" for r in rows)
    )
    [new] = [r for r in rows if r.job_id != row.job_id]
    assert new.user_id == int(bob["user"]["id"]) and new.cost == 1
    assert (new.params["steps"], new.params["smooth"], new.params["colors"]) == (3, 2, "original")
    assert new.seed == 7 and new.params["layer"] == "conv1"  # what was not changed is kept
    assert fake.state.downloads[-1] == first["attachments"][1]["id"]  # the source, not the dream


async def test_a_bad_value_is_one_line_and_nothing_is_charged(fake, bot):
    alice = fake.add_member(name="alice")
    first = await finished_result(await dream(fake, alice))
    await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    for bad in ({NUMBERS: "lots"}, {NUMBERS: "1.5, 500, 1"}, {SEED: "-3"}, {LAYER: "nope"}):
        form = await _open_form(fake, first, alice)
        sent = await fake.submit_modal(form, bad, user=alice)
        cb = await sent.wait_for_callback(5)
        assert cb.type == 4 and cb.data["flags"] & 64, bad  # ephemeral, not a deferred dream
        assert "\n" not in cb.data["content"].strip(), cb.data["content"]
    rows = await bot.services.store.jobs()
    assert len(rows) == 1  # the first dream only: nothing reserved, nothing charged
