"""bot.intake against a real local aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from bot.errors import Busy, DownloadFailed, NoImageFound
from bot.intake import Intake, download_attachment, pick_image_attachment
from bot.settings import IntakeConfig
from dreamcore.errors import LinkRefused

CAP = 4096
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # what the download sniffs (decoding is not tested here)
BODY = PNG_SIGNATURE + bytes(range(256)) * 8  # 2 KiB


async def ok(request):
    return web.Response(body=BODY, content_type="image/png")


async def big(request):
    return web.Response(body=PNG_SIGNATURE + b"x" * CAP, content_type="image/png")


async def chunked(request):
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()  # no Content-Length: only counting can stop it
    await resp.prepare(request)
    await resp.write(PNG_SIGNATURE)
    for _ in range(100):
        await resp.write(b"y" * 1000)
    await resp.write_eof()
    return resp


async def missing(request):
    return web.Response(status=404)


async def slow(request):
    await asyncio.Event().wait()  # never answers: only the client's timeout ends it
    return web.Response(body=BODY)


async def redirect_out(request):
    raise web.HTTPFound("http://example.com/evil.png")


async def redirect_in(request):
    raise web.HTTPFound("/ok.png")


@pytest.fixture
async def server():
    app = web.Application()
    for path, handler in [
        ("/ok.png", ok),
        ("/big.png", big),
        ("/chunked.png", chunked),
        ("/missing.png", missing),
        ("/slow.png", slow),
        ("/redirect-out.png", redirect_out),
        ("/redirect-in.png", redirect_in),
    ]:
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


# Downloads that must succeed get all the time they need (a busy machine is no failure); only
# test_timeout uses a short limit, against a server that never answers.
CONFIG = IntakeConfig(max_download_bytes=CAP, download_timeout_s=60, allowed_hosts=("127.0.0.1",))


async def test_ok_download(server, session):
    assert (
        await download_attachment(
            session, f"{server}/ok.png", config=CONFIG, declared_size=len(BODY)
        )
        == BODY
    )


async def test_declared_size_over_cap_refused_before_any_request(session):
    with pytest.raises(DownloadFailed, match="too big to download"):
        await download_attachment(
            session, "http://127.0.0.1:1/x.png", config=CONFIG, declared_size=CAP + 1
        )


async def test_content_length_over_cap(server, session):
    with pytest.raises(DownloadFailed, match=r"too big to download \(4 KiB\); the limit is 4 KiB"):
        await download_attachment(session, f"{server}/big.png", config=CONFIG)


async def test_chunked_stream_over_cap_aborts(server, session):
    with pytest.raises(DownloadFailed, match="too big to download; the limit is 4 KiB"):
        await download_attachment(session, f"{server}/chunked.png", config=CONFIG)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.png",
        "ftp://127.0.0.1/a.png",
        "file:///etc/passwd",
        "not a url",
        "http://127.0.0.1.evil.com/a.png",
    ],
)
async def test_disallowed_host(session, url):
    with pytest.raises(DownloadFailed, match="only fetch images uploaded to Discord"):
        await download_attachment(session, url, config=CONFIG)


async def test_default_hosts_are_discord_cdn(session):
    with pytest.raises(DownloadFailed, match="only fetch"):
        await download_attachment(session, "http://127.0.0.1/a.png", config=IntakeConfig())


async def test_redirects_are_host_checked(server, session):
    assert await download_attachment(session, f"{server}/redirect-in.png", config=CONFIG) == BODY
    with pytest.raises(DownloadFailed, match="only fetch"):
        await download_attachment(session, f"{server}/redirect-out.png", config=CONFIG)


async def test_404(server, session):
    with pytest.raises(DownloadFailed, match=r"\(HTTP 404\); was the message deleted\?"):
        await download_attachment(session, f"{server}/missing.png", config=CONFIG)


async def test_timeout(server, session):
    hurried = CONFIG.model_copy(update={"download_timeout_s": 0.5})
    with pytest.raises(DownloadFailed, match=r"longer than 0\.5 s"):
        await download_attachment(session, f"{server}/slow.png", config=hurried)


async def test_connection_refused(session):
    with pytest.raises(DownloadFailed, match="network error"):
        await download_attachment(session, "http://127.0.0.1:1/x.png", config=CONFIG)


def att(filename, content_type=None):
    return SimpleNamespace(
        filename=filename, content_type=content_type, url=f"https://cdn/{filename}"
    )


def test_pick_first_image_attachment():
    chosen = pick_image_attachment(
        [att("notes.txt", "text/plain"), att("cat.JPG"), att("dog.png", "image/png")]
    )
    assert chosen.filename == "cat.JPG"
    assert pick_image_attachment([att("blob", "image/webp; charset=binary")]).filename == "blob"


def test_pick_takes_videos_by_their_type_or_name():
    """What each really is is read from its bytes later; here Discord's type or the name."""
    for video in (
        att("clip.mp4", "video/mp4"),
        att("a.webm"),
        att("IMG_0001.MOV"),
        att("blob", "video/quicktime"),
    ):
        assert pick_image_attachment([att("notes.txt", "text/plain"), video]) is video
    with pytest.raises(NoImageFound, match="or an MP4, WebM or MOV video"):
        pick_image_attachment([att("song.mp3", "audio/mpeg")])


def test_pick_refuses_non_images():
    with pytest.raises(NoImageFound, match="None of those attachments is an image"):
        pick_image_attachment([att("a.txt", "text/plain"), att("logo.svg", "image/svg+xml")])
    with pytest.raises(NoImageFound, match="couldn't find an image"):
        pick_image_attachment([])


# --- Intake: a user's downloads at once, the bytes orders hold (issue 9 #4) ------------------


@pytest.fixture
async def held_server():
    """Serves a real PNG; /held.png answers only when the test sets `release`."""
    from tests.helpers import noise_png

    png = noise_png((64, 48))
    release = asyncio.Event()

    async def image(request):
        return web.Response(body=png, content_type="image/png")

    async def held(request):
        await release.wait()
        return web.Response(body=png, content_type="image/png")

    app = web.Application()
    app.router.add_get("/img.png", image)
    app.router.add_get("/held.png", held)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", release, len(png)
    release.set()
    await runner.cleanup()


def intake_with(**overrides) -> Intake:
    from dreamcore.config import EngineConfig

    config = IntakeConfig(allowed_hosts=("127.0.0.1",), download_timeout_s=60, **overrides)
    return Intake(config, EngineConfig(min_side=8))


async def test_a_user_cannot_fetch_more_than_their_share_at_once(held_server):
    base, release, _ = held_server
    intake = intake_with(downloads_per_user=2)
    await intake.open()
    try:
        slow = [
            asyncio.create_task(intake.fetch(f"{base}/held.png", user_id=1, max_side=64))
            for _ in range(2)
        ]
        # the intake has no event for it: poll until both downloads are under way
        while sum(intake._downloading.values()) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        with pytest.raises(Busy, match="still fetching"):
            await intake.fetch(f"{base}/img.png", user_id=1, max_side=64)
        other = await intake.fetch(f"{base}/img.png", user_id=2, max_side=64)  # others may
        release.set()
        for task in slow:
            (await task).release()
        other.release()
        again = await intake.fetch(f"{base}/img.png", user_id=1, max_side=64)  # free again
        assert again.source[:2] == b"\xff\xd8"  # the source JPEG that travels with the dream
        again.release()
    finally:
        await intake.close()


async def test_images_held_by_waiting_orders_are_bounded(held_server):
    base, _, png_size = held_server
    intake = intake_with(max_held_bytes=1024 + png_size * 2)
    await intake.open()
    try:
        first = await intake.fetch(f"{base}/img.png", user_id=1, max_side=64)
        assert intake.budget.held == first.nbytes
        with pytest.raises(Busy, match="Too many images"):
            await intake.fetch(f"{base}/img.png", user_id=2, max_side=64)
        first.release()
        assert intake.budget.held == 0
        second = await intake.fetch(f"{base}/img.png", user_id=2, max_side=64)
        second.release()
        second.release()  # idempotent
        assert intake.budget.held == 0
    finally:
        await intake.close()


# --- What the intake decodes: animations' frames, guides (issue 19 #1, #7) -------------------


@pytest.fixture
async def files_server():
    """Serves the bytes a test puts in the returned dict, at /<name>."""
    files: dict[str, bytes] = {}

    async def serve(request):
        return web.Response(body=files[request.match_info["name"]], content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", files
    await runner.cleanup()


def wide_intake() -> Intake:
    """The engine's shipped limits: dreams up to 2048 px, 32 px sides at least."""
    from dreamcore.config import EngineConfig

    config = IntakeConfig(allowed_hosts=("127.0.0.1",), download_timeout_s=60)
    return Intake(config, EngineConfig())


async def test_an_animation_is_held_with_its_frames_and_refused_by_its_decoding_cost(files_server):
    from dreamcore.errors import InvalidImage
    from tests import hostile_animations as HA

    base, files = files_server
    files["ok.gif"] = HA.gif((64, 64), [HA.gif_frame(0, 0, 64, 64)] * 5)
    files["far.gif"] = HA.gif_far_off_frame()
    files["canvas.webp"] = HA.webp_big_canvas(20)
    intake = wide_intake()
    await intake.open()
    try:
        held = await intake.fetch(f"{base}/ok.gif", user_id=1, max_side=64)
        assert held.frames == 5
        held.release()
        with pytest.raises(InvalidImage, match=r"too large: .* 12000x12000 pixels, the limit is"):
            await intake.fetch(f"{base}/far.gif", user_id=1, max_side=64)
        with pytest.raises(InvalidImage, match=r"20 frames of 8000x8000 .* 256,000,000 pixels"):
            await intake.fetch(f"{base}/canvas.webp", user_id=1, max_side=64)
        assert intake.budget.held == 0  # refused images hold nothing
    finally:
        await intake.close()


async def test_a_guide_is_checked_at_the_size_its_features_are_taken(files_server):
    """2048x40 fits a 2048-px dream, but as a guide it is taken at 512 px: 512x10, thinner than
    the network can take. Refused here, in one line, before a job exists."""
    from dreamcore.errors import InvalidImage
    from tests.bot.hostile_images import png

    base, files = files_server
    files["thin.png"] = png(2048, 40)
    intake = wide_intake()
    await intake.open()
    try:
        image = await intake.fetch(f"{base}/thin.png", user_id=1, max_side=2048)
        assert image.size == (2048, 40)  # as an image to dream: fine
        image.release()
        with pytest.raises(InvalidImage) as refused:
            await intake.fetch(f"{base}/thin.png", user_id=1, max_side=2048, guide=True)
        text = str(refused.value)
        assert "too small to guide a dream: 2048x40" in text and "\n" not in text, text
        files["guide.png"] = png(1000, 800)
        guide = await intake.fetch(f"{base}/guide.png", user_id=1, max_side=2048, guide=True)
        assert guide.size == (512, 410)  # held (and posted as guide.jpg) at the size it is used
        guide.release()
    finally:
        await intake.close()


# --- links people paste (issue 23) ------------------------------------------------------------


def link_intake(net, **overrides) -> Intake:
    from dreamcore.config import EngineConfig

    config = IntakeConfig(allowed_hosts=("127.0.0.1",), **overrides)
    return Intake(config, EngineConfig(min_side=8), net.network())


async def test_a_link_is_fetched_from_a_public_name_and_held_like_an_attachment(files_server):
    from tests.helpers import noise_png
    from tests.loopback_net import PUBLIC_V4, LoopbackNetwork

    base, files = files_server
    files["cat.png"] = noise_png((64, 48))
    port = base.rsplit(":", 1)[1]
    net = LoopbackNetwork({"photos.example": [PUBLIC_V4], "inside.example": ["10.9.8.7"]})
    intake = link_intake(net)
    await intake.open()
    try:
        url = f"http://photos.example:{port}/cat.png"
        held = await intake.fetch(url, user_id=1, max_side=64, link=True)
        assert held.size == (64, 48) and intake.budget.held == held.nbytes
        held.release()
        with pytest.raises(LinkRefused, match="resolves to a private address"):
            await intake.fetch(
                f"http://inside.example:{port}/cat.png", user_id=1, max_side=64, link=True
            )
        with pytest.raises(DownloadFailed, match="only fetch images uploaded to Discord"):
            await intake.fetch(url, user_id=1, max_side=64)  # not as an attachment
        assert intake.budget.held == 0 and not intake._downloading  # refusals hold nothing
    finally:
        await intake.close()
    assert net.violations == []


def test_check_link_takes_discords_no_embed_form_and_refuses_by_look():
    from tests.loopback_net import LoopbackNetwork

    intake = link_intake(LoopbackNetwork())
    assert intake.check_link(" <https://photos.example/a.gif> ") == "https://photos.example/a.gif"
    with pytest.raises(LinkRefused, match="points to a private address"):
        intake.check_link("http://192.168.1.1/a.png")
    home = link_intake(LoopbackNetwork(), url_allowed_hosts=("192.168.1.1",))
    assert home.check_link("http://192.168.1.1/a.png") == "http://192.168.1.1/a.png"
    off = link_intake(LoopbackNetwork(), url_fetch=False)
    with pytest.raises(LinkRefused, match="turned off"):
        off.check_link("https://photos.example/a.gif")


# --- Videos (issue 23) --------------------------------------------------------------------------


async def test_a_2_gb_video_is_refused_by_the_byte_cap_before_any_request(session):
    """Discord says the size up front: refused in one line, nothing fetched (port 1 would
    refuse a connection), nothing held."""
    intake = wide_intake()
    await intake.open()
    try:
        with pytest.raises(DownloadFailed) as refused:
            await intake.fetch(
                "http://127.0.0.1:1/clip.mp4", user_id=1, max_side=512, declared_size=2 * 1024**3
            )
        assert "too big to download (2048.0 MiB); the limit is 25.0 MiB" in str(refused.value)
        assert "\n" not in str(refused.value) and intake.budget.held == 0
    finally:
        await intake.close()


async def test_a_video_is_known_by_its_bytes_and_held_with_its_frames(files_server):
    """Served as image/png under a .gif name, as links and re-uploads often are: it is an MP4,
    held with its frame count (what the price is reckoned from) and travelling whole."""
    pytest.importorskip("av", reason="videos need PyAV (the `video` extra)")
    from dreamcore.errors import InvalidImage
    from tests import videos as V

    base, files = files_server
    files["not-a.gif"] = V.clip("mp4", frames=12, size=(96, 64), audio=True)
    files["hostile.mp4"] = V.garbage_after_ftyp()
    files["sound.mp4"] = V.sound_only()
    intake = wide_intake()
    await intake.open()
    try:
        held = await intake.fetch(f"{base}/not-a.gif", user_id=1, max_side=64)
        assert (held.frames, held.size, held.source_name) == (12, (64, 43), "source.mp4")
        assert held.source == held.data
        held.release()
        for name, words in (
            ("hostile.mp4", "That video is damaged"),
            ("sound.mp4", "That file has sound but no picture"),
        ):
            with pytest.raises(InvalidImage, match=words):
                await intake.fetch(f"{base}/{name}", user_id=1, max_side=64)
        assert intake.budget.held == 0
    finally:
        await intake.close()
