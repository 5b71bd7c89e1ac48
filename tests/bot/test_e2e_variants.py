"""/dream variants:N end to end: N dreams of one image, each another channel of the layer, in
one reply, priced N dreams."""

from tests.bot.conftest import E2E, dream, finished_result, wait_ledger
from tests.bot.test_e2e_discord import cancel_id

pytestmark = E2E


def _files(message) -> list[str]:
    return [a["filename"] for a in message["attachments"]]


async def test_variants_are_one_reply_of_different_targets_charged_each(fake, bot):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, layer="relu2", variants=3)
    reply = await rec.wait_until(
        lambda r: next((m for m in r.messages if "dream-1.png" in _files(m)), None), 60
    )
    assert [n for n in _files(reply) if n.startswith("dream-")] == [
        "dream-1.png",
        "dream-2.png",
        "dream-3.png",
    ]
    assert len(reply["embeds"]) == 3
    rows = await wait_ledger(
        bot, lambda rows: len(rows) == 3 and all(r.status == "done" for r in rows)
    )
    assert sum(r.cost for r in rows) == 3  # priced three dreams
    targets = {r.params["layer"] for r in rows}
    assert len(targets) == 3 and all(t.startswith("relu2:") for t in targets)
    seeds = {r.seed for r in rows}
    assert len(seeds) == 3 and all(str(seed) in str(reply["embeds"]) for seed in seeds)
    # one reply: the interaction's answer is the only message carrying dreams
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


async def test_one_cancel_stops_every_variant(fake, bot, gate):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(96), octaves=2, steps=2, variants=3)
    line = await rec.wait_until(
        lambda r: r.original if r.original and "octave" in r.original["content"] else None, 30
    )  # the first variant waits at the gate; the others wait their turn
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
    rows = await wait_ledger(bot, lambda rows: rows and rows[0].status == "cancelled")
    assert len(rows) == 1 and rows[0].cost == 0  # the others never started: nothing reserved
    await finished_result(await dream(fake, alice))  # the worker is free again
