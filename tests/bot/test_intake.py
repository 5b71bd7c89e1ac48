"""bot.intake against a real local aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from bot.errors import DownloadFailed, NoImageFound
from bot.intake import download_attachment, pick_image_attachment
from bot.settings import IntakeConfig

CAP = 4096
BODY = bytes(range(256)) * 8  # 2 KiB


async def ok(request):
    return web.Response(body=BODY, content_type="image/png")


async def big(request):
    return web.Response(body=b"x" * (CAP + 1), content_type="image/png")


async def chunked(request):
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()  # no Content-Length: only counting can stop it
    await resp.prepare(request)
    for _ in range(100):
        await resp.write(b"y" * 1000)
    await resp.write_eof()
    return resp


async def missing(request):
    return web.Response(status=404)


async def slow(request):
    await asyncio.sleep(5)
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


CONFIG = IntakeConfig(max_download_bytes=CAP, download_timeout_s=0.5, allowed_hosts=("127.0.0.1",))


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
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(DownloadFailed, match="longer than 0.5 s"):
        await download_attachment(session, f"{server}/slow.png", config=CONFIG)
    assert loop.time() - start < 3


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


def test_pick_refuses_non_images():
    with pytest.raises(NoImageFound, match="None of those attachments is an image"):
        pick_image_attachment([att("a.txt", "text/plain"), att("logo.svg", "image/svg+xml")])
    with pytest.raises(NoImageFound, match="couldn't find an image"):
        pick_image_attachment([])
