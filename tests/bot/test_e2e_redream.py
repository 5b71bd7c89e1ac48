"""Re-dreams end to end: reaction on a result, context menu on a user's image, buttons after restart."""

from tests.bot.conftest import (
    E2E,
    RunningBot,
    dream,
    finished_result,
    has_file,
    png_bytes,
    wait_ledger,
)

pytestmark = E2E


def _button(msg: dict, action: str) -> str:
    ids = [c["custom_id"] for row in msg["components"] for c in row["components"]]
    return next(i for i in ids if i.startswith(f"dream:{action}:"))


def _results(fake) -> list[dict]:
    return [m for m in fake.messages_in() if has_file(m) and m["author"].get("bot")]


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
        rec = await fake.click_button(first, _button(first, "deeper"), user=alice)
        deeper = await finished_result(rec)
        assert deeper["id"] != first["id"]
        rec = await fake.click_button(first, _button(first, "reroll"), user=alice)
        await finished_result(rec)
        rows = await wait_ledger(
            bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
        )
        assert sorted(r.source for r in rows) == ["button", "button", "slash"]

        rec = await fake.click_button(
            deeper, _button(deeper, "delete"), user=bob
        )  # not the requester
        cb = await rec.wait_for_callback(5)
        assert cb.type == 4 and cb.data["flags"] & 64 and "Only" in cb.data["content"]
        assert fake.message(deeper["id"]) is not None
        rec = await fake.click_button(deeper, _button(deeper, "delete"), user=alice)
        await fake.wait_for(lambda: fake.message(deeper["id"]) is None, 10)
    finally:
        await runner.stop()
