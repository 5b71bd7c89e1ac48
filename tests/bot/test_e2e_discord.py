"""Discord as people use it end to end: user installs (DMs, servers without the bot), Cancel,
the queue's estimate, /dreams, spoilers, several images in one message, and the synced
definitions that make user installs possible."""

from tests.bot.conftest import E2E, button, dream, finished_result, png_bytes, wait_ledger

pytestmark = E2E
GUILD_INSTALL, USER_INSTALL = 0, 1
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2


def files_of(message: dict) -> list[str]:
    return [a["filename"] for a in message["attachments"]]


def cancel_id(message: dict) -> str:
    ids = [c["custom_id"] for row in message.get("components", []) for c in row["components"]]
    return next(i for i in ids if i.startswith("dream:cancel:"))


async def test_synced_commands_say_where_they_can_be_installed_and_used(fake, bot):
    [commands] = fake.commands.values()
    by_name = {c["name"]: c for c in commands}
    for name in ("dream", "Dream this image", "Dream avatar", "queue", "dreams", "dream-help"):
        assert by_name[name]["integration_types"] == [GUILD_INSTALL, USER_INSTALL], name
        assert by_name[name]["contexts"] == [GUILD, BOT_DM, PRIVATE_CHANNEL], name
    for name in ("quota", "dreamconfig"):  # admin commands stay in servers
        assert by_name[name]["integration_types"] == [GUILD_INSTALL], name
        assert by_name[name]["contexts"] == [GUILD], name


async def test_dream_in_a_dm_with_the_users_own_quota(fake, bot):
    alice = fake.add_member(name="alice")
    rec = await fake.slash_command(
        "dream",
        {"octaves": 1, "steps": 2, "size": 64},
        user=alice,
        where="dm",
        attachments={"image": ("in.png", png_bytes(80), "image/png")},
    )
    msg = await finished_result(rec)
    assert files_of(msg)[0].startswith("dream.")
    [row] = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    assert row.guild_id is None and row.cost == 1  # the user's scope, not a server's


async def test_dream_this_image_in_a_server_the_bot_is_not_in(fake, bot):
    alice = fake.add_member(name="alice")
    posted = fake.user_installed_message(
        alice, [("cat.png", png_bytes(72), "image/png")], where="elsewhere"
    )
    rec = await fake.context_menu("Dream this image", posted, user=alice, where="elsewhere")
    msg = await finished_result(rec)  # through the interaction: the bot can't post there
    assert msg["channel_id"] == posted["channel_id"]
    [row] = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    assert row.guild_id is None and row.source == "context"


async def test_cancel_a_queued_and_a_running_dream(fake, bot, gate, pool):
    alice = fake.add_member(name="alice")
    running = await dream(fake, alice, gate.png(96), octaves=2, steps=2)
    await running.wait_until(lambda r: r.original and "octave" in r.original["content"], 30)
    queued = await dream(fake, alice, png_bytes(80))
    waiting = await queued.wait_until(
        lambda r: r.original if r.original and "in line" in r.original["content"] else None, 30
    )
    rec = await fake.click_button(waiting, cancel_id(waiting), user=alice)
    await queued.wait_until(lambda r: r.original and "cancelled" in r.original["content"], 30)
    rec = await fake.click_button(running.original, cancel_id(running.original), user=alice)
    await running.wait_until(lambda r: r.original and "cancelled" in r.original["content"], 30)
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 2 and all(r.status == "cancelled" for r in rows)
    )
    assert all(r.cost == 0 for r in rows)
    assert not rec.original or "Only" not in (rec.original.get("content") or "")
    await finished_result(await dream(fake, alice))  # the worker is free again


async def test_a_dream_cancelled_in_the_channel_loses_its_cancel_button(fake, bot, gate):
    # issue 19 #10: a reaction's dream is answered in the channel; once cancelled (or failed),
    # its line kept a Cancel button that could only say "already finished"
    alice = fake.add_member(name="alice")
    posted = await fake.user_message(
        author=alice, attachments=[("g.png", gate.png(96), "image/png")]
    )
    await fake.add_reaction(posted["id"], "🌀", user=alice)

    def status_line():
        return next(
            (
                m
                for m in fake.messages_in()
                if m.get("message_reference", {}).get("message_id") == posted["id"]
                and m.get("components")
            ),
            None,
        )

    line = await fake.wait_for(status_line, 30)
    await fake.click_button(line, cancel_id(line), user=alice)
    ended = await fake.wait_for(
        lambda: (m := fake.message(line["id"])) and "cancelled" in m["content"] and m, 30
    )
    assert not ended.get("components")
    rows = await wait_ledger(bot, lambda rows: rows and rows[0].status == "cancelled")
    assert rows[0].cost == 0


async def test_the_wait_estimate_moves_with_the_queue(fake, bot, gate):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    await finished_result(await dream(fake, alice))  # a first dream: something to go by
    first = await dream(fake, alice, gate.png(96), octaves=2, steps=2)
    await first.wait_until(lambda r: r.original and "octave" in r.original["content"], 30)
    second = await dream(fake, bob, gate.png(96, seed=1), octaves=2, steps=2)
    # two requests posted together may queue in either order: let the second take its place first
    await second.wait_until(
        lambda r: r.original and "next in line, about" in r.original["content"], 30
    )
    third = await dream(fake, bob, png_bytes(80))
    await third.wait_until(
        lambda r: r.original and "2nd in line, about" in r.original["content"], 30
    )
    rec = await fake.slash_command("queue", {}, user=bob)
    text = (await rec.wait_for_callback(5)).data["content"]
    assert "1st in line" in text and "2nd in line" in text and "2 waiting" in text
    gate.release()  # the first finishes; the queue moves up
    await third.wait_until(
        lambda r: r.original and "next in line, about" in r.original["content"], 30
    )
    gate.release()
    await finished_result(second)
    await finished_result(third)


async def test_dreams_lists_the_last_ones_with_links(fake, bot):
    alice = fake.add_member(name="alice")
    for _ in range(3):
        await finished_result(await dream(fake, alice))
    await wait_ledger(bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows))
    rec = await fake.slash_command("dreams", {}, user=alice)
    cb = await rec.wait_for_callback(5)
    assert cb.data["flags"] & 64  # private
    lines = [line for line in cb.data["content"].splitlines() if line.startswith("•")]
    assert len(lines) == 3 and all("[open](" in line and "seed" in line for line in lines)


async def test_a_spoiler_channel(fake, bot):
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    secret = fake.add_channel("spoilers")
    rec = await fake.slash_command(
        "dreamconfig", {"spoiler": True, "spoiler_channel": secret}, user=admin
    )
    assert f"<#{secret['id']}>" in (await rec.wait_for_callback(5)).data["content"]
    hidden = await finished_result(await dream(fake, alice, channel=secret))
    assert all(name.startswith("SPOILER_") for name in files_of(hidden))
    assert not hidden["embeds"][0].get("image")  # the embed must not show it unblurred
    plain = await finished_result(await dream(fake, alice))  # elsewhere: as usual
    assert files_of(plain)[0].startswith("dream.")
    again = await finished_result(
        await fake.click_button(hidden, button(hidden, "deeper"), user=alice)
    )
    assert files_of(again)[0].startswith("SPOILER_")  # buttons find spoilered attachments too


async def test_a_message_with_three_images_dreamed_by_a_reaction(fake, bot):
    alice, bob = fake.add_member(name="alice"), fake.add_member(name="bob")
    posted = await fake.user_message(
        author=alice,
        attachments=[(f"p{i}.png", png_bytes(64 + 8 * i, seed=i), "image/png") for i in range(3)],
    )
    await fake.add_reaction(posted["id"], "🌀", user=bob)

    def reply():
        return next(
            (
                m
                for m in fake.messages_in()
                if m.get("message_reference", {}).get("message_id") == posted["id"]
                and any(n.startswith("dream-") for n in files_of(m))
            ),
            None,
        )

    msg = await fake.wait_for(reply, 60)
    assert [n for n in files_of(msg) if n.startswith("dream-")] == [
        "dream-1.png",
        "dream-2.png",
        "dream-3.png",
    ]
    assert len(msg["embeds"]) == 3
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
    )
    assert sum(r.cost for r in rows) == 3  # each charged
