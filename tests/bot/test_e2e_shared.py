"""Dreaming what people already have in front of them (issue 23): `/dream` with neither an image
nor a link dreams the last image posted in the channel, and "Dream avatar" (right-click a
member → Apps) dreams their server or global avatar, animated ones animated. Through the
loopback Discord (its message list and its CDN's avatars), a real pool and the tiny model.
Each refusal is one ephemeral line and costs nothing."""

from __future__ import annotations

import io

import pytest
import pytest_asyncio
from PIL import Image

from bot.recent import HISTORY_LIMIT
from bot.replies import HISTORY_NO_PERMISSION, HISTORY_NOT_HERE
from localdiscord import payloads as P
from localdiscord.server import FakeDiscord
from tests.bot.conftest import (
    E2E,
    FAST,
    RunningBot,
    finished_result,
    make_settings,
    png_bytes,
    wait_ledger,
)

pytestmark = E2E


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sfake():
    async with FakeDiscord(allow_message_content=True) as f:
        yield f


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srunner(sfake, pool, tmp_path_factory):
    path = tmp_path_factory.mktemp("shared") / "bot.sqlite3"
    runner = RunningBot(sfake, make_settings(sfake, path), pool)
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
def sbot(srunner):
    return srunner.bot


def notes(message: dict) -> str:
    return next(f["value"] for f in message["embeds"][0]["fields"] if f["name"] == "Notes")


def dream_file(message: dict) -> Image.Image:
    att = next(a for a in message["attachments"] if a["filename"].startswith("dream."))
    return Image.open(io.BytesIO(att["data"]))


async def refusal(rec) -> str:
    cb = await rec.wait_for_callback(5)
    assert cb.type == 4 and cb.data["flags"] & 64, "a refusal is one ephemeral line"
    return cb.data["content"]


async def charged(bot, user) -> list:
    user_id = int(user["user"]["id"])
    return [r for r in await bot.services.store.jobs() if r.user_id == user_id]


def gif(frames: int = 3, side: int = 64) -> bytes:
    images = [Image.effect_noise((side, side), 30 + 9 * i).convert("RGB") for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=60, loop=0)
    return buf.getvalue()


# the channel's last image ----------------------------------------------------------------


async def test_dream_with_nothing_dreams_the_last_image_posted_skipping_text(sfake, sbot):
    channel = sfake.add_channel("last-image")
    bob, carol, alice = (sfake.add_member(name=n) for n in ("bob", "carol", "alice"))
    older = await sfake.user_message(
        author=bob, channel=channel, attachments=[("old.png", png_bytes(seed=1), "image/png")]
    )
    posted = await sfake.user_message(
        author=bob, channel=channel, attachments=[("cat.png", png_bytes(seed=2), "image/png")]
    )
    await sfake.user_message(author=carol, channel=channel, content="what a cat")
    rec = await sfake.slash_command("dream", FAST, user=alice, channel=channel)
    msg = await finished_result(rec)
    assert sfake.downloads == [posted["attachments"][0]["id"]]  # the newest, not `older`
    assert older["attachments"][0]["id"] not in sfake.downloads
    note = notes(msg)
    assert f"posted by <@{bob['user']['id']}>" in note and posted["id"] in note  # its link
    history = sfake.find_requests("GET", f"/channels/{channel['id']}/messages")
    assert [r.query.get("limit") for r in history] == [str(HISTORY_LIMIT)]
    rows = await wait_ledger(sbot, lambda rows: any(r.status == "done" for r in rows))
    assert [(r.units, r.cost) for r in await charged(sbot, alice)] == [(1, 1)]
    assert rows

    # the bot's own result is the newest image now: dreaming again goes deeper
    sfake.downloads.clear()
    again = await finished_result(
        await sfake.slash_command("dream", FAST, user=alice, channel=channel)
    )
    dreamed = next(a for a in msg["attachments"] if a["filename"].startswith("dream."))
    assert sfake.downloads == [dreamed["id"]]
    assert f"posted by <@{sfake.bot_user['id']}>" in notes(again)


async def test_no_image_in_the_last_messages_is_one_line_and_costs_nothing(sfake, sbot):
    channel = sfake.add_channel("just-talk")
    dave = sfake.add_member(name="dave")
    for n in range(3):
        await sfake.user_message(author=dave, channel=channel, content=f"hello {n}")
    rec = await sfake.slash_command("dream", FAST, user=dave, channel=channel)
    assert f"no image in the last {HISTORY_LIMIT} messages" in await refusal(rec)
    assert await charged(sbot, dave) == []


async def test_without_read_message_history_it_says_so(sfake, sbot):
    channel = sfake.add_channel("no-history")
    erin = sfake.add_member(name="erin")
    await sfake.user_message(
        author=erin, channel=channel, attachments=[("x.png", png_bytes(), "image/png")]
    )
    roles = [sfake.everyone_role, sfake.state.bot_role]
    saved = [r["permissions"] for r in roles]
    for r in roles:
        r["permissions"] = str(int(r["permissions"]) & ~P.READ_MESSAGE_HISTORY)
    try:
        rec = await sfake.slash_command("dream", FAST, user=erin, channel=channel)
        assert await refusal(rec) == HISTORY_NO_PERMISSION
    finally:
        for r, perms in zip(roles, saved, strict=True):
            r["permissions"] = perms
    assert await charged(sbot, erin) == []


async def test_a_channel_the_bot_cannot_view_is_one_line(sfake, sbot):
    channel = sfake.add_channel("hidden")
    olga = sfake.add_member(name="olga")
    sfake.state.hidden_channels.add(channel["id"])  # its REST calls there: 403 Missing Access
    rec = await sfake.slash_command("dream", FAST, user=olga, channel=channel)
    assert await refusal(rec) == HISTORY_NOT_HERE
    assert await charged(sbot, olga) == []


async def test_in_its_own_dm_the_bot_finds_the_last_image_there(sfake, sbot):
    lena = sfake.add_member(name="lena")
    dm = sfake.state.dm_channel_for(lena["user"]["id"])
    posted = await sfake.user_message(
        author=lena, channel=dm, attachments=[("me.png", png_bytes(seed=6), "image/png")]
    )
    sfake.downloads.clear()
    rec = await sfake.slash_command("dream", FAST, user=lena, where="dm", channel=dm)
    await finished_result(rec)
    assert sfake.downloads == [posted["attachments"][0]["id"]]


async def test_a_user_install_where_the_bot_is_not_says_it_cant_read_there(sfake, sbot):
    frank = sfake.add_member(name="frank")
    rec = await sfake.slash_command("dream", FAST, user=frank, where="private")
    assert await refusal(rec) == HISTORY_NOT_HERE
    assert await charged(sbot, frank) == []


# "Dream avatar" ------------------------------------------------------------------------


async def test_dream_avatar_dreams_the_server_avatar_first_and_charges_once(sfake, sbot):
    gina, hank = sfake.add_member(name="gina"), sfake.add_member(name="hank")
    sfake.set_avatar(gina, png_bytes(64, seed=4))
    sfake.set_avatar(gina, png_bytes(64, seed=5), server=True)
    rec = await sfake.user_context_menu("Dream avatar", gina, user=hank)
    msg = await finished_result(rec)
    assert notes(msg) == f"Dreamed <@{gina['user']['id']}>'s server avatar."
    await wait_ledger(sbot, lambda rows: any(r.status == "done" for r in rows))
    assert [(r.units, r.cost, r.status) for r in await charged(sbot, hank)] == [(1, 1, "done")]


async def test_an_animated_avatar_comes_back_animated(sfake, sbot):
    ivy = sfake.add_member(name="ivy")
    avatar = sfake.set_avatar(ivy, gif(frames=3))
    assert avatar.startswith("a_")
    msg = await finished_result(await sfake.user_context_menu("Dream avatar", ivy, user=ivy))
    with dream_file(msg) as anim:
        assert anim.n_frames == 3
    assert [a["filename"] for a in msg["attachments"]][1] == "source.gif"
    assert notes(msg) == f"Dreamed <@{ivy['user']['id']}>'s avatar."


async def test_dream_avatar_works_where_only_the_user_installed_the_app(sfake, sbot):
    mia, ned = sfake.add_member(name="mia"), sfake.add_member(name="ned")
    sfake.set_avatar(mia, png_bytes(64, seed=7))
    rec = await sfake.user_context_menu("Dream avatar", mia, user=ned, where="elsewhere")
    msg = await finished_result(rec)
    assert notes(msg) == f"Dreamed <@{mia['user']['id']}>'s avatar."


async def test_no_avatar_of_their_own_is_one_line_and_costs_nothing(sfake, sbot):
    jack, kim = sfake.add_member(name="jack"), sfake.add_member(name="kim")
    rec = await sfake.user_context_menu("Dream avatar", jack, user=kim)
    assert "has no avatar of their own" in await refusal(rec)
    assert await charged(sbot, kim) == []
