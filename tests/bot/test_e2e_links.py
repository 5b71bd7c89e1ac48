"""`/dream url:<link>` through the loopback Discord, a real pool and the tiny model.

The bot's links go through `LoopbackNetwork`: `photos.example` resolves to a public address that
the test's connector routes to a local image server; other names resolve to private addresses.
Nothing is ever dialled off this machine (the network records any try and the module fails).
Each refused link gets one line and costs nothing: no ledger row, the quota untouched.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from aiohttp import web

from bot.replies import IMAGE_OR_LINK, LINKS_OFF
from bot.settings import IntakeConfig
from localdiscord.server import FakeDiscord
from tests.bot.conftest import E2E, FAST, RunningBot, finished_result, has_file, make_settings
from tests.bot.conftest import png_bytes as make_png
from tests.loopback_net import PUBLIC_V4, LoopbackNetwork

pytestmark = E2E

PNG = make_png(72, seed=3)
CAP = 100_000
ANSWER_TIMEOUT = 30.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def images():
    """The web: a picture, a page, a body over the cap, a redirect into the private network."""

    async def picture(request):
        return web.Response(body=PNG, content_type="image/png")

    async def page(request):
        return web.Response(text="<html>not a picture</html>", content_type="text/html")

    async def huge(request):
        return web.Response(body=PNG[:16] + b"\0" * CAP, content_type="image/png")

    async def inward(request):
        raise web.HTTPFound("http://192.168.0.1/router.png")

    app = web.Application()
    for path, handler in [
        ("/cat.png", picture),
        ("/page", page),
        ("/huge.png", huge),
        ("/inward", inward),
    ]:
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1]  # its port
    await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lfake():
    async with FakeDiscord(allow_message_content=True) as f:
        yield f


def network() -> LoopbackNetwork:
    return LoopbackNetwork(
        {
            "photos.example": [PUBLIC_V4],
            "intranet.example": ["10.20.30.40"],
            "split.example": [PUBLIC_V4, "127.0.0.1"],
        }
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lrunner(lfake, pool, tmp_path_factory):
    path = tmp_path_factory.mktemp("links") / "bot.sqlite3"
    intake = IntakeConfig(allowed_hosts=("127.0.0.1",), max_download_bytes=CAP)
    runner = RunningBot(lfake, make_settings(lfake, path, intake=intake), pool, network())
    await runner.start()
    yield runner
    await runner.stop()
    assert runner.net.violations == [], "a link went past the guard"


@pytest.fixture
def lbot(lrunner):
    return lrunner.bot


async def dream_link(fake, user, url: str, **options):
    return await fake.slash_command("dream", {**FAST, "steps": 1, "url": url, **options}, user=user)


async def answer(rec) -> str:
    """The one line a refused link gets: ephemeral before acknowledging, else the response."""
    cb = await rec.wait_for_callback(5)
    if cb.type == 4:
        assert cb.data["flags"] & 64, "a refusal before acknowledging is ephemeral"
        return cb.data["content"]
    text = await rec.wait_until(
        lambda r: next((m["content"] for m in r.messages if m.get("content")), None),
        ANSWER_TIMEOUT,
    )
    assert not any(has_file(m) for m in rec.messages)
    return text


async def costs_nothing(bot, user) -> None:
    user_id = int(user["user"]["id"])  # each test's user is new
    rows = [r for r in await bot.services.store.jobs() if r.user_id == user_id]
    assert rows == [], "a refused link left a ledger row"
    q = await bot.services.quota.status(
        user_id=user_id, guild_id=int(bot.guilds[0].id), role_ids=[]
    )
    assert (q.used_today, q.in_flight) == (0, 0), q


async def test_a_link_to_a_public_picture_is_dreamed(lfake, lbot, lrunner, images):
    alice = lfake.add_member(name="alice")
    url = f"<http://photos.example:{images}/cat.png>"  # Discord's no-embed form works too
    rec = await dream_link(lfake, alice, url)
    msg = await finished_result(rec)
    assert has_file(msg)
    assert "127.0.0.1" in lrunner.net.dials  # photos.example's public address, routed here
    rows = await lbot.services.store.jobs()
    assert [r.user_id for r in rows] == [int(alice["user"]["id"])]


@pytest.mark.parametrize(
    "url,words",
    [
        ("http://10.0.0.1/a.png", "points to a private address"),
        ("http://[::1]:{port}/cat.png", "points to a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "points to a link-local address"),
        ("ftp://photos.example/a.png", "only fetch http and https"),
        ("https://bob:hunter2@photos.example/a.png", "user name or password"),
        ("http://intranet.example:{port}/a.png", "resolves to a private address"),
        ("http://split.example:{port}/cat.png", "resolves to a loopback address"),
        ("http://photos.example:{port}/inward", "points to a private address"),
        ("http://photos.example:{port}/page", "isn't an image or a video"),
        ("http://photos.example:{port}/huge.png", "too big to download"),
    ],
    ids=[
        "private",
        "loopback-v6",
        "metadata",
        "ftp",
        "credentials",
        "dns-private",
        "dns-public-and-loopback",
        "redirect-private",
        "web-page",
        "too-big",
    ],
)
async def test_a_refused_link_is_one_line_and_costs_nothing(lfake, lbot, images, url, words):
    bob = lfake.add_member(name="bob")
    text = await answer(await dream_link(lfake, bob, url.format(port=images)))
    assert words in text and "\n" not in text, text
    await costs_nothing(lbot, bob)


async def test_an_image_and_a_link_at_once_is_refused(lfake, lbot, images):
    carol = lfake.add_member(name="carol")
    rec = await lfake.slash_command(
        "dream",
        {**FAST, "url": f"http://photos.example:{images}/cat.png"},
        user=carol,
        attachments={"image": ("in.png", PNG, "image/png")},
    )
    assert await answer(rec) == IMAGE_OR_LINK
    await costs_nothing(lbot, carol)


async def test_links_can_be_turned_off(pool, tmp_path, images):
    intake = IntakeConfig(allowed_hosts=("127.0.0.1",), url_fetch=False)
    async with FakeDiscord(allow_message_content=True) as fake:  # a bot of its own
        settings = make_settings(fake, tmp_path / "off.sqlite3", intake=intake)
        runner = RunningBot(fake, settings, pool, network())
        bot = await runner.start()
        try:
            dave = fake.add_member(name="dave")
            url = f"http://photos.example:{images}/cat.png"
            assert await answer(await dream_link(fake, dave, url)) == LINKS_OFF
            await costs_nothing(bot, dave)
        finally:
            await runner.stop()
    assert runner.net.dials == []
