"""/dream end to end: loopback Discord, real DreamBot, real pool worker with the tiny model."""

import pytest

from tests.bot.conftest import E2E, dream, finished_result, has_file, png_bytes, wait_ledger

pytestmark = E2E


async def test_happy_path_returns_a_dream_and_charges_once(fake, bot):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, png_bytes(80))
    cb = await rec.wait_for_callback(5)
    assert cb.type == 5  # deferred with thinking, within the 3 s
    msg = await finished_result(rec)
    att = msg["attachments"][0]
    assert att["filename"].startswith("dream.") and len(att["data"]) > 100
    embed = msg["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Model"] == "tiny" and "relu3" in fields["Layer"]
    assert next(c["custom_id"] for row in msg["components"] for c in row["components"]).startswith(
        "dream:deeper:"
    )
    rows = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    assert len(rows) == 1 and rows[0].cost == 1 and rows[0].user_id == int(alice["user"]["id"])


async def test_text_file_gets_a_friendly_error_and_costs_nothing(fake, bot):
    alice = fake.add_member(name="alice")
    rec = await dream(
        fake, alice, b"hello, not an image\n" * 10, filename="notes.txt", ctype="text/plain"
    )
    text = await rec.wait_until(lambda r: r.original and r.original["content"], 20)
    assert "isn't an image" in text
    assert not has_file(rec.original)
    assert await bot.services.store.jobs() == []


async def test_unknown_layer_names_the_nearest_one_ephemerally(fake, bot):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, layer="relu22")
    cb = await rec.wait_for_callback(5)
    assert cb.type == 4 and cb.data["flags"] & 64  # ephemeral message
    assert "relu2" in cb.data["content"] and "Did you mean" in cb.data["content"]
    assert await bot.services.store.jobs() == []


async def test_layer_autocomplete_lists_described_layers(fake, bot):
    alice = fake.add_member(name="alice")
    choices = await fake.autocomplete("dream", {}, "layer", user=alice)
    assert choices[0]["value"] == "relu1" and "level 1" in choices[0]["name"]
    assert len(choices) == 6


@pytest.mark.parametrize("limit", [1])
async def test_quota_exhausted_tells_when_it_resets(fake, pool, tmp_path, limit):
    from tests.bot.conftest import RunningBot, make_settings

    runner = RunningBot(
        fake, make_settings(fake, tmp_path / "q.sqlite3", quota={"user_daily": limit}), pool
    )
    bot = await runner.start()
    try:
        alice = fake.add_member(name="alice")
        await finished_result(await dream(fake, alice))
        await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
        rec = await dream(fake, alice)
        text = await rec.wait_until(lambda r: (r.messages and r.messages[0]["content"]) or None, 20)
        assert "UTC" in text or "reset" in text.lower(), text
        rows = await bot.services.store.jobs()
        assert [r.status for r in rows] == ["done"]
    finally:
        await runner.stop()


async def test_progress_shows_a_preview_that_the_result_replaces(fake, bot, gate):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(160), octaves=3, steps=4, size=160)

    def preview_edits():
        edits = fake.find_requests("PATCH", f"/webhooks/*/{rec.token}/messages/@original")
        return [f for r in edits for f in r.files if f.filename == "preview.jpg"]

    # The job waits at the gate after its first octave: its preview must be on screen.
    previews = await fake.wait_for(preview_edits, 30)
    assert previews[0].data[:2] == b"\xff\xd8"  # a JPEG under the progress bar
    assert "octave 1/3" in rec.original["content"]
    gate.release()
    msg = await finished_result(rec)
    names = [a["filename"] for a in msg["attachments"]]
    assert names[0].startswith("dream.") and "preview.jpg" not in names  # the preview is gone


async def test_acknowledged_in_time_while_the_database_writer_is_stuck(pool, tmp_path):
    # Issue 9 #10: nothing before the acknowledgement may wait for the database writer. Another
    # process holds SQLite's write lock, so alice's reservation waits on the bot's writer; bob's
    # /dream must still be acknowledged within Discord's 3 s.
    import sqlite3

    from localdiscord.server import FakeDiscord
    from tests.bot.conftest import RunningBot, make_settings

    async with FakeDiscord(ack_deadline=3.0) as strict:
        settings = make_settings(strict, tmp_path / "locked.sqlite3")
        runner = RunningBot(strict, settings, pool)
        bot = await runner.start()
        try:
            alice, bob = strict.add_member(name="alice"), strict.add_member(name="bob")
            other = sqlite3.connect(settings.store.path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # e.g. a backup, or an operator's sqlite3 shell
            try:
                first = await dream(strict, alice)
                assert (await first.wait_for_callback(5)).type == 5
                [upload] = first.payload["data"]["resolved"]["attachments"]
                await strict.wait_for(lambda: upload in strict.state.downloads, 30)
                # alice's order is now on its way to the (blocked) reservation
                second = await dream(strict, bob)
                cb = await second.wait_for_callback(30)
                assert cb.type == 5 and second.ack_latency < 3.0  # deferred, in time
            finally:
                other.execute("ROLLBACK")
                other.close()
            await finished_result(first)
            await finished_result(second)
            await wait_ledger(bot, lambda rows: len(rows) == 2)
        finally:
            await runner.stop()
