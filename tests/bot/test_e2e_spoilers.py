"""Spoilers end to end: a spoilered input or result hides every file of the answer, whichever way
the re-dream is asked for (context menu, reaction, Deeper, Re-roll, Animate), after a restart too.
"""

from tests.bot.conftest import (
    E2E,
    RunningBot,
    button,
    dream,
    finished_result,
    has_file,
    png_bytes,
    wait_ledger,
)

pytestmark = E2E


def uploaded_names(fake) -> list[str]:
    """Every file the bot sent, previews and attachments of answers that were refused included."""
    return [f.filename for r in fake.requests for f in r.files]


def assert_hidden(message: dict) -> None:
    names = [a["filename"] for a in message["attachments"]]
    assert names and all(n.startswith("SPOILER_") for n in names), names
    # an embed's image or thumbnail would show a file unblurred
    assert all(not e.get("image") and not e.get("thumbnail") for e in message["embeds"])


def reply_to(fake, message_id: str):
    """The bot's answer (with a dream) that replies to `message_id`, once there is one."""
    return next(
        (
            m
            for m in fake.messages_in()
            if has_file(m) and m.get("message_reference", {}).get("message_id") == message_id
        ),
        None,
    )


async def test_a_spoilered_upload_dreamed_from_the_menu_or_a_reaction_stays_hidden(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    posted = await fake.user_message(
        author=alice, attachments=[("SPOILER_cat.png", png_bytes(72), "image/png")]
    )
    menu = await finished_result(await fake.context_menu("Dream this image", posted, user=bob))
    assert_hidden(menu)
    assert any(a["filename"].startswith("SPOILER_source.") for a in menu["attachments"])
    await fake.add_reaction(posted["id"], "🌀", user=bob)
    assert_hidden(await fake.wait_for(lambda: reply_to(fake, posted["id"]), 60))
    uploaded = uploaded_names(fake)
    assert uploaded and all(name.startswith("SPOILER_") for name in uploaded), uploaded


async def test_every_re_dream_of_a_spoilered_result_stays_hidden_after_a_restart(
    fake, settings, pool
):
    runner = RunningBot(fake, settings, pool)
    await runner.start()
    alice = fake.add_member(name="alice")
    first = await finished_result(await dream(fake, alice, spoiler=True))
    assert_hidden(first)
    await runner.stop()

    runner = RunningBot(fake, settings, pool)  # the buttons' state is in the message itself
    bot = await runner.start()
    try:
        for action in ("deeper", "reroll", "animate"):
            rec = await fake.click_button(first, button(first, action), user=alice)
            assert_hidden(await finished_result(rec))
        await fake.add_reaction(first["id"], "🌀", user=alice)
        assert_hidden(await fake.wait_for(lambda: reply_to(fake, first["id"]), 60))
        await wait_ledger(
            bot, lambda rows: len(rows) == 5 and all(r.status == "done" for r in rows)
        )
        uploaded = uploaded_names(fake)
        assert uploaded and all(name.startswith("SPOILER_") for name in uploaded), uploaded
    finally:
        await runner.stop()
