"""The upload limit end to end: the answer as a whole (the dream, its source and guide) fits it,
a source larger than the limit is shrunk rather than losing the dream, Re-roll still works, and
a limit lower than the bot was told (a reaction only knows the server's) is planned for again."""

import pytest_asyncio

from localdiscord.server import FakeDiscord
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
LIMIT = 30_000  # below the source.jpg of a 256 px noisy picture (~42 kB) on its own


@pytest_asyncio.fixture(loop_scope="module")
async def tight():
    async with FakeDiscord(filesize_limit=LIMIT, allow_message_content=True) as f:
        yield f


@pytest_asyncio.fixture(loop_scope="module")
async def tight_bot(tight, pool, tmp_path):
    runner = RunningBot(tight, make_settings(tight, tmp_path / "tight.sqlite3"), pool)
    bot = await runner.start()
    yield bot
    await runner.stop()


def files(message: dict) -> dict[str, int]:
    return {a["filename"]: len(a["data"]) for a in message["attachments"]}


def posts(fake) -> list[int]:
    """The status of every answer the bot tried to post (those carrying files)."""
    return [r.status for r in fake.requests if r.method in ("POST", "PATCH") and r.files]


async def test_a_source_over_the_limit_is_shrunk_and_the_whole_answer_fits(tight, tight_bot):
    alice = tight.add_member(name="alice")
    rec = await dream(tight, alice, png_bytes(256), octaves=1, steps=2, size=256)
    msg = await finished_result(rec)
    sizes = files(msg)
    assert sum(sizes.values()) <= LIMIT, sizes
    [source] = [name for name in sizes if name.startswith("source.")]  # shrunk, not left out
    assert any(name.startswith("dream.") for name in sizes)
    assert msg["embeds"][0]["thumbnail"]["url"].endswith(source)  # "before" shows it
    assert 413 not in posts(tight)  # planned to fit, not refused first
    await wait_ledger(tight_bot, lambda rows: rows and rows[0].status == "done")

    again = await finished_result(await tight.click_button(msg, button(msg, "reroll"), user=alice))
    assert sum(files(again).values()) <= LIMIT
    assert "original image is gone" not in str(again["embeds"][0])  # it dreamed the source
    rows = await wait_ledger(
        tight_bot, lambda rows: len(rows) == 2 and all(r.status == "done" for r in rows)
    )
    assert all(r.cost == 1 for r in rows)


async def test_a_limit_lower_than_known_is_planned_for_again_and_a_spoiler_stays_one(
    tight, tight_bot
):
    # A reaction answers in the channel with the server's limit (10 MiB: the fake's guild has
    # no boosts), so Discord refuses the first try; the answer is planned again, smaller, and
    # nothing of it comes out unblurred on the way.
    alice = tight.add_member(name="alice")
    posted = await tight.user_message(
        author=alice, attachments=[("SPOILER_big.png", png_bytes(256), "image/png")]
    )
    await tight.add_reaction(posted["id"], "🌀", user=alice)
    reply = await tight.wait_for(
        lambda: next((m for m in tight.messages_in() if has_file(m)), None), 60
    )
    sizes = files(reply)
    assert sum(sizes.values()) <= LIMIT, sizes
    assert all(name.startswith("SPOILER_") for name in sizes), sizes
    assert any(name.startswith("SPOILER_source.") for name in sizes)
    assert not reply["embeds"][0].get("image")
    assert posts(tight)[0] == 413 and posts(tight)[-1] == 200
    await wait_ledger(tight_bot, lambda rows: rows and rows[0].status == "done")
