"""dreamcore.links: which addresses are public, and fetching a link through the guard.

Every fetch here goes through `LoopbackNetwork` (tests/loopback_net.py): a DNS table the test
writes, and a connector that dials only loopback and records any attempt to go elsewhere. A name
the test maps to a public address is served by a local server; a broken guard fails the test (a
violation, or the wrong message), it never sends a packet out.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress

import pytest
from aiohttp import web
from yarl import URL

from dreamcore.errors import DownloadFailed, LinkRefused
from dreamcore.links import (
    Destinations,
    FetchLimits,
    address_refusal,
    checked_url,
    fetch,
    literal_address,
    media_kind,
    open_session,
)
from tests.helpers import noise_png
from tests.loopback_net import PUBLIC_V4, LoopbackNetwork

PNG = noise_png((40, 30))
CAP = 64 * 1024
LIMITS = FetchLimits(max_bytes=CAP, timeout_s=60, max_redirects=3)  # no test races its timeout
LINKS = Destinations.links()
PUBLIC_NAME = "photos.example"


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address,kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.1.2", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "private"),  # benchmarking
        ("192.0.2.1", "private"),  # documentation
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fec0::1", "private"),  # site-local
        ("ff02::1", "multicast"),
        ("2001:db8::1", "private"),  # documentation
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::1", "private"),  # local-use NAT64
        ("::a00:1", "reserved"),  # IPv4-compatible (deprecated)
        ("2001::1", "private"),  # Teredo
    ],
)
def test_addresses_that_are_not_public(address, kind):
    assert address_refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address", [PUBLIC_V4, "8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host,address",
    [
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("::1", "::1"),
        ("photos.example", None),
    ],
)
def test_literal_addresses_include_the_legacy_ipv4_forms(host, address):
    found = literal_address(host)
    assert (str(found) if found else None) == address


# --- what a link may look like -------------------------------------------------------------


@pytest.mark.parametrize(
    "url,words",
    [
        ("ftp://photos.example/a.png", "only fetch http and https"),
        ("file:///etc/passwd", "only fetch http and https"),
        ("javascript:alert(1)", "only fetch http and https"),
        ("https://user:secret@photos.example/a.png", "user name or password"),
        ("https://user@photos.example/a.png", "user name or password"),
        ("http://127.0.0.1/a.png", "points to a loopback address"),
        ("http://[::1]:8080/a.png", "points to a loopback address"),
        ("http://10.0.0.8/a.png", "points to a private address"),
        ("http://169.254.169.254/latest/meta-data", "points to a link-local address"),
        ("http://[::ffff:7f00:1]/a.png", "points to a loopback address"),
        ("http://2130706433/a.png", "points to a loopback address"),
        ("http://0x7f.1/a.png", "points to a loopback address"),
        ("http://0.0.0.0:80/", "points to an unspecified address"),
        ("https:///a.png", "has no host"),
        ("https://photos.example/" + "a" * 3000, "too long"),
    ],
)
def test_links_refused_by_their_look(url, words):
    with pytest.raises(LinkRefused, match=words):
        checked_url(url, LINKS)


def test_a_self_hosted_host_is_allowed_wherever_it_is():
    home = Destinations.links(("NAS.lan", "192.168.1.20"))
    assert checked_url("http://nas.lan./a.png", home).host == "nas.lan."
    assert checked_url("http://192.168.1.20/a.png", home).host == "192.168.1.20"
    with pytest.raises(LinkRefused, match="private"):
        checked_url("http://192.168.1.21/a.png", home)


def test_media_kind_knows_every_decodable_format_and_videos():
    import io

    from PIL import Image

    from dreamcore.imaging import SUPPORTED_FORMATS

    im = Image.new("RGB", (8, 8))
    for fmt in SUPPORTED_FORMATS:
        if fmt == "MPO":  # written as JPEG by Pillow, and starts like one
            continue
        buf = io.BytesIO()
        try:
            im.save(buf, fmt)
        except (KeyError, OSError):  # a Pillow without that encoder
            continue
        assert media_kind(buf.getvalue()[:16]) == "image", fmt
    assert media_kind(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00") == "video"
    assert media_kind(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00") == "video"
    assert media_kind(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81") == "video"
    assert media_kind(b"<!DOCTYPE html><html>") is None
    assert media_kind(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") is None  # gzip


# --- fetching through the guard ------------------------------------------------------------


@pytest.fixture
async def server():
    """A local server for every name the tests route to loopback. /drip sends an image's first
    bytes and then nothing until the test ends (a link that never ends)."""
    test_over = asyncio.Event()

    async def image(request):
        return web.Response(body=PNG, content_type="image/png")

    async def video(request):
        return web.Response(
            body=b"\x00\x00\x00\x20ftypisom" + b"\x00" * 100, content_type="video/mp4"
        )

    async def page(request):
        return web.Response(text="<!DOCTYPE html><html>a page</html>", content_type="text/html")

    async def big(request):
        return web.Response(body=PNG[:16] + b"x" * CAP, content_type="image/png")

    async def chunked(request):
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()  # no Content-Length: only counting can stop it
        await resp.prepare(request)
        await resp.write(PNG[:16])
        for _ in range(100):
            await resp.write(b"y" * 4096)
        await resp.write_eof()
        return resp

    async def drip(request):
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(PNG[:20])
        await test_over.wait()  # never more while the fetch waits: only its timeout ends it
        return resp

    async def bomb(request):
        body = gzip.compress(b"\x00" * (CAP * 64))
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "image/png"}
        )

    async def redirect(request):
        raise web.HTTPFound(request.query["to"])

    async def loop(request):
        raise web.HTTPFound("/loop")

    app = web.Application()
    routes = {
        "/a.png": image,
        "/clip.mp4": video,
        "/page": page,
        "/big.png": big,
        "/chunked.png": chunked,
        "/drip.png": drip,
        "/bomb.png": bomb,
        "/redirect": redirect,
        "/loop": loop,
    }
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1]
    test_over.set()
    await runner.cleanup()


@pytest.fixture
def net():
    n = LoopbackNetwork({PUBLIC_NAME: [PUBLIC_V4]})
    yield n
    assert n.violations == [], "the guard let a non-loopback address through to the connector"


async def get(net, url, destinations=LINKS, limits=LIMITS) -> bytes:
    async with open_session(destinations, net.network()) as session:
        return await fetch(session, url, destinations=destinations, limits=limits)


async def test_a_public_name_is_fetched(server, net):
    assert await get(net, f"http://{PUBLIC_NAME}:{server}/a.png") == PNG
    assert net.dials == ["127.0.0.1"]  # where the public address was routed


async def test_a_video_is_handed_on_as_bytes(server, net):
    data = await get(net, f"http://{PUBLIC_NAME}:{server}/clip.mp4")
    assert data[4:8] == b"ftyp"


@pytest.mark.parametrize(
    "addresses,kind",
    [
        (["127.0.0.1"], "loopback"),
        (["10.1.2.3"], "private"),
        (["169.254.169.254"], "link-local"),
        (["::1"], "loopback"),
        (["::ffff:192.168.0.1"], "private"),
        (["fe80::1"], "link-local"),
        ([PUBLIC_V4, "10.1.2.3"], "private"),  # one private among public ones is enough
        (["2606:4700::1111", "127.0.0.1"], "loopback"),
    ],
)
async def test_a_name_that_resolves_to_a_non_public_address_is_refused(
    server, net, addresses, kind
):
    net.dns_table["inside.example"] = addresses
    with pytest.raises(LinkRefused, match=f"host resolves to an? {kind} address"):
        await get(net, f"http://inside.example:{server}/a.png")
    assert net.dials == []  # nothing was dialled


def via_redirect(port: int, to: str) -> str:
    return str(URL(f"http://{PUBLIC_NAME}:{port}/redirect").with_query(to=to))


@pytest.mark.parametrize(
    "to,words",
    [
        ("http://127.0.0.1:{port}/a.png", "points to a loopback address"),
        ("http://10.0.0.9/a.png", "points to a private address"),
        ("http://inside.example:{port}/a.png", "resolves to a loopback address"),
        ("gopher://photos.example/", "only fetch http and https"),
        ("http://u:p@photos.example:{port}/a.png", "user name or password"),
    ],
)
async def test_every_redirect_is_checked(server, net, to, words):
    net.dns_table["inside.example"] = ["127.0.0.1"]
    with pytest.raises(LinkRefused, match=words):
        await get(net, via_redirect(server, to.format(port=server)))
    assert net.dials == ["127.0.0.1"]  # the first hop only


async def test_a_redirect_to_a_public_name_is_followed(server, net):
    net.dns_table["cdn.example"] = [PUBLIC_V4]
    assert await get(net, via_redirect(server, f"http://cdn.example:{server}/a.png")) == PNG
    assert net.dials == ["127.0.0.1", "127.0.0.1"]


async def test_too_many_redirects(server, net):
    with pytest.raises(DownloadFailed, match="too many redirects"):
        await get(net, f"http://{PUBLIC_NAME}:{server}/loop")


async def test_a_link_that_never_ends_is_bounded_by_the_timeout(server, net):
    """/drip sends an image's first bytes and then holds until the test ends: only the total
    timeout can end the fetch, however slowly this machine runs."""
    short = FetchLimits(max_bytes=CAP, timeout_s=0.3)
    with pytest.raises(DownloadFailed, match=r"longer than 0\.3 s"):
        await get(net, f"http://{PUBLIC_NAME}:{server}/drip.png", limits=short)


async def test_oversized_bodies_are_cut_off(server, net):
    with pytest.raises(DownloadFailed, match=r"too big to download \(64 KiB\); the limit is 64"):
        await get(net, f"http://{PUBLIC_NAME}:{server}/big.png")  # Content-Length says so
    with pytest.raises(DownloadFailed, match="too big to download; the limit is 64 KiB"):
        await get(net, f"http://{PUBLIC_NAME}:{server}/chunked.png")  # counted as it comes


async def test_a_web_page_is_refused_after_its_first_bytes(server, net):
    with pytest.raises(
        DownloadFailed, match=r"isn't an image or a video I can read \(it's text/html\)"
    ):
        await get(net, f"http://{PUBLIC_NAME}:{server}/page")


async def test_a_gzip_bomb_is_never_inflated(server, net):
    with pytest.raises(DownloadFailed, match="isn't an image or a video"):
        await get(net, f"http://{PUBLIC_NAME}:{server}/bomb.png")


async def test_an_unknown_name_is_a_network_error(server, net):
    with pytest.raises(DownloadFailed, match="network error"):
        await get(net, f"http://nowhere.example:{server}/a.png")
    assert net.dials == []


async def test_a_self_hosted_name_may_resolve_to_a_private_address(server, net):
    net.dns_table["nas.lan"] = ["127.0.0.1"]
    home = Destinations.links(("nas.lan",))
    assert await get(net, f"http://nas.lan:{server}/a.png", home) == PNG
    with pytest.raises(LinkRefused, match="loopback"):
        await get(net, f"http://nas.lan:{server}/a.png")  # not without the setting


class Rebinding(dict):
    """A name that answers a public address the first time and a loopback one after."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = [[PUBLIC_V4], ["127.0.0.2"]]

    def get(self, name, default=None):
        if name != "rebind.example":
            return default
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_the_connection_goes_to_the_vetted_address(server, net):
    """DNS rebinding: the name is looked up once, and the connection goes to the address that
    answer (vetted) gave; a second lookup would get 127.0.0.2, where nothing listens."""
    net.dns_table = Rebinding()
    assert await get(net, f"http://rebind.example:{server}/a.png") == PNG
    assert net.lookups == ["rebind.example"]
    assert net.dials == ["127.0.0.1"]  # the public answer, routed to the test server
