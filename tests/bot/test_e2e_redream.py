"""Re-dreams end to end: reactions, the context menu on a user's image, buttons (after a restart
too), what they dream again (the ledger's record of the dream), and what they must not do."""

import json

from tests.bot.conftest import (
    E2E,
    RunningBot,
    button,
    dream,
    finished_result,
    has_file,
    make_settings,
    png_bytes,
    wait_ledger,
)

pytestmark = E2E


# Settings a dream can have that the embed's settings line doesn't list (issue 21).
UNLISTED = {"octave_scale": 1.8, "blend": 0.5, "tile_size": 128, "output": "webp"}


def _results(fake) -> list[dict]:
    return [m for m in fake.messages_in() if has_file(m) and m["author"].get("bot")]


async def _recorded_with_unlisted_settings(bot, job_id: str) -> None:
    """As if the dream had been asked with settings the embed can't show (the ledger records
    every one of them; a config's tile size, say, or an option added later)."""
    store = bot.services.store
    row = await store.get_job(job_id)
    params = json.dumps({**row.params, **UNLISTED})
    recorded = await store.transaction(
        lambda tx: tx.update_job(job_id, only_if=("done",), params=params)
    )
    assert recorded


def _unlisted(row) -> dict:
    return {k: row.params.get(k) for k in UNLISTED}


async def test_reaction_on_a_result_dreams_it_again(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    first = await finished_result(await dream(fake, alice))
    await fake.add_reaction(first["id"], "🌀", user=bob)
    reply = await fake.wait_for(
        lambda: next((m for m in _results(fake) if m["id"] != first["id"]), None), 60
    )
    assert f"<@{bob['user']['id']}>" in reply["content"]
    assert reply.get("message_reference", {}).get("message_id") == first["id"]
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 2 and all(r.status == "done" for r in rows)
    )
    assert {r.source for r in rows} == {"slash", "reaction"}


async def test_bot_ignores_its_own_reactions_and_other_emoji(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    first = await finished_result(await dream(fake, alice))
    await fake.add_reaction(first["id"], "👍", user=alice)
    await fake.add_reaction(first["id"], "🌀", user=fake.bot_user)
    # A reaction that does count, after them: once its dream is in the ledger, the two before
    # it (delivered and handled in order) would have left rows too if they counted.
    await fake.add_reaction(first["id"], "🌀", user=bob)
    rows = await wait_ledger(bot, lambda rows: any(r.source == "reaction" for r in rows))
    assert sorted(r.source for r in rows) == ["reaction", "slash"]
    assert [r.user_id for r in rows if r.source == "reaction"] == [int(bob["user"]["id"])]


async def test_context_menu_on_a_users_image(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    posted = await fake.user_message(
        author=alice, content="look", attachments=[("cat.png", png_bytes(72), "image/png")]
    )
    rec = await fake.context_menu("Dream this image", posted, user=bob)
    msg = await finished_result(rec)
    assert msg["attachments"][0]["filename"].startswith("dream.")
    rows = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    assert rows[0].source == "context" and rows[0].user_id == int(bob["user"]["id"])


async def test_reaction_on_a_users_image_with_message_content(fake, bot):
    alice = fake.add_member(name="alice")
    posted = await fake.user_message(
        author=alice, attachments=[("dog.png", png_bytes(64), "image/png")]
    )
    await fake.add_reaction(posted["id"], "🌀", user=alice)
    reply = await fake.wait_for(lambda: next(iter(_results(fake)), None), 60)
    assert reply["message_reference"]["message_id"] == posted["id"]


async def test_buttons_work_after_a_restart(fake, settings, pool):
    runner = RunningBot(fake, settings, pool)
    await runner.start()
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    first = await finished_result(await dream(fake, alice))
    await runner.stop()

    runner = RunningBot(fake, settings, pool)  # same store, same fake: a restarted process
    bot = await runner.start()
    try:
        rec = await fake.click_button(first, button(first, "deeper"), user=alice)
        deeper = await finished_result(rec)
        assert deeper["id"] != first["id"]
        rec = await fake.click_button(first, button(first, "reroll"), user=alice)
        await finished_result(rec)
        rows = await wait_ledger(
            bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
        )
        assert sorted(r.source for r in rows) == ["button", "button", "slash"]

        rec = await fake.click_button(
            deeper, button(deeper, "delete"), user=bob
        )  # not the requester
        cb = await rec.wait_for_callback(5)
        assert cb.type == 4 and cb.data["flags"] & 64 and "Only" in cb.data["content"]
        assert fake.message(deeper["id"]) is not None
        rec = await fake.click_button(deeper, button(deeper, "delete"), user=alice)
        await fake.wait_for(lambda: fake.message(deeper["id"]) is None, 10)
    finally:
        await runner.stop()


async def test_reaction_replies_do_not_ping_the_author_of_someone_elses_image(fake, bot):
    # Issue 9 #11: ten people reacting to one picture must not ping its author ten times.
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    posted = await fake.user_message(
        author=alice, attachments=[("cat.png", png_bytes(64), "image/png")]
    )
    await fake.add_reaction(posted["id"], "🌀", user=bob)
    reply = await fake.wait_for(lambda: next(iter(_results(fake)), None), 60)
    assert reply["message_reference"]["message_id"] == posted["id"]
    assert f"<@{bob['user']['id']}>" in reply["content"]  # the requester is named
    [post] = [r for r in fake.find_requests("POST", "/channels/*/messages") if r.files]
    mentions = post.json["allowed_mentions"]
    assert not mentions.get("replied_user") and mentions["parse"] == ["users"]  # absent = false


async def test_deeper_obeys_the_servers_current_size_cap(fake, bot):
    # Issue 9 #5: settings read back from an old result are clamped to today's /dreamconfig.
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    first = await finished_result(await dream(fake, alice, png_bytes(200), size=200))
    assert "max side 200" in str(first["embeds"][0])
    rec = await fake.slash_command("dreamconfig", {"max_size": 96}, user=admin)
    await rec.wait_for_callback(5)
    deeper = await finished_result(
        await fake.click_button(first, button(first, "deeper"), user=alice)
    )
    assert "max side 96" in str(deeper["embeds"][0])
    size = {f["name"]: f["value"] for f in deeper["embeds"][0]["fields"]}["Size"]
    assert max(int(v) for v in size.split("×")) <= 96


async def test_reroll_dreams_the_original_even_after_its_upload_link_expired(fake, bot):
    # Issue 9 #12: the original travels with the result (source.jpg), so an expired link to
    # the uploaded file does not matter, and the "before" thumbnail never breaks.
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, png_bytes(96))
    first = await finished_result(rec)
    [uploaded] = rec.payload["data"]["resolved"]["attachments"]
    del fake.state.attachments[uploaded]  # the signed CDN link has expired
    names = [a["filename"] for a in first["attachments"]]
    assert names[1:] == ["source.jpg"]
    assert first["embeds"][0]["thumbnail"]["url"].endswith("source.jpg")
    source_id = first["attachments"][1]["id"]
    again = await finished_result(
        await fake.click_button(first, button(first, "reroll"), user=alice)
    )
    assert fake.state.downloads[-1] == source_id  # the original, not the dream
    notes = {f["name"]: f["value"] for f in again["embeds"][0]["fields"]}.get("Notes", "")
    assert "gone" not in notes


async def test_delete_works_where_the_bot_cannot_see_the_channel_and_says_when_gone(fake, bot):
    # Issue 9 #9: delete through the interaction's webhook, not the bot's channel permissions.
    alice = fake.add_member(name="alice")
    hidden = fake.add_channel("private-dreams")
    fake.state.hidden_channels.add(hidden["id"])
    first = await finished_result(await dream(fake, alice, channel=hidden))
    rec = await fake.click_button(first, button(first, "delete"), user=alice)
    await fake.wait_for(lambda: fake.message(first["id"]) is None, 10)
    second = await finished_result(await dream(fake, alice, channel=hidden))
    fake.state.delete_message(second["id"])  # someone else deleted it meanwhile
    rec = await fake.click_button(second, button(second, "delete"), user=alice)
    text = await rec.wait_until(
        lambda r: next(
            (m["content"] for m in r.messages if "already deleted" in m["content"]), None
        ),
        10,
    )
    assert "already deleted" in text


async def test_deeper_reroll_and_reaction_keep_every_setting_the_ledger_recorded(fake, bot):
    # Issue 21: they read the embed back, and lost what its settings line doesn't list.
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    first = await finished_result(await dream(fake, alice))
    [row] = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    await _recorded_with_unlisted_settings(bot, row.job_id)
    await finished_result(await fake.click_button(first, button(first, "deeper"), user=bob))
    await finished_result(await fake.click_button(first, button(first, "reroll"), user=alice))
    await fake.add_reaction(first["id"], "🌀", user=bob)
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 4 and all(r.status == "done" for r in rows)
    )
    again = {(r.source, r.user_id): r for r in rows if r.job_id != row.job_id}
    deeper = again["button", int(bob["user"]["id"])]
    reroll = again["button", int(alice["user"]["id"])]
    reaction = again["reaction", int(bob["user"]["id"])]
    for redream in (deeper, reroll, reaction):
        assert _unlisted(redream) == UNLISTED, redream.source
        assert (redream.params["octaves"], redream.params["steps"]) == (1, 2)
    assert deeper.params["seed"] == row.seed and deeper.params["layer"] == row.params["layer"]
    assert reroll.params["seed"] != row.seed


async def test_a_result_from_a_server_the_bot_is_not_in_keeps_its_settings_for_anyone(fake, bot):
    # The ledger row is alice's, from a user install elsewhere; bob clicks: the dream's params.
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    posted = fake.user_installed_message(
        alice, [("cat.png", png_bytes(72), "image/png")], where="elsewhere"
    )
    rec = await fake.context_menu("Dream this image", posted, user=alice, where="elsewhere")
    first = await finished_result(rec)
    [row] = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    await _recorded_with_unlisted_settings(bot, row.job_id)
    await finished_result(await fake.click_button(first, button(first, "deeper"), user=bob))
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 2 and all(r.status == "done" for r in rows)
    )
    [deeper] = [r for r in rows if r.job_id != row.job_id]
    assert deeper.user_id == int(bob["user"]["id"]) and deeper.guild_id is None
    assert _unlisted(deeper) == UNLISTED and deeper.params["seed"] == row.seed


async def test_results_the_ledger_does_not_know_dream_from_their_embed(fake, pool, tmp_path):
    # Posted before buttons read the ledger, or the database was wiped: the embed still serves.
    runner = RunningBot(fake, make_settings(fake, tmp_path / "before.sqlite3"), pool)
    await runner.start()
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    first = await finished_result(await dream(fake, alice, size=72))
    await runner.stop()

    runner = RunningBot(fake, make_settings(fake, tmp_path / "wiped.sqlite3"), pool)
    bot = await runner.start()
    try:
        deeper = await finished_result(
            await fake.click_button(first, button(first, "deeper"), user=alice)
        )
        assert "max side 72" in str(deeper["embeds"][0])
        await finished_result(await fake.click_button(first, button(first, "reroll"), user=alice))
        await fake.add_reaction(first["id"], "🌀", user=bob)
        rows = await wait_ledger(
            bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
        )
        assert sorted(r.source for r in rows) == ["button", "button", "reaction"]
        for row in rows:  # the embed's settings: /dream's octaves, steps and size
            assert (row.params["octaves"], row.params["steps"]) == (1, 2), row.source
            assert row.params["max_side"] == 72
    finally:
        await runner.stop()
