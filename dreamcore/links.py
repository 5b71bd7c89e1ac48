"""Fetching an image over HTTP safely: a Discord attachment or a link someone pasted.

`fetch` is the one download path (the bot's intake and the command line use it): the size cap
(Content-Length and the bytes that really arrive), one total timeout, redirects followed by hand
with every hop checked, and a sniff of the first bytes, so that a web page or junk is refused
after a few bytes instead of after the cap.

Where it may go is a `Destinations`: a few named hosts (Discord's CDN; a self-hosted server),
and, for links, any other host whose every address is public. The address check lives in the
resolver the connector dials with (`PublicOnlyResolver`): the addresses it vets are the ones
connected to, so a DNS answer can't change between the check and the connection (rebinding).
aiohttp dials an IP literal without asking the resolver, so `checked_url` vets those itself.
No Discord here (the CLI shares it): refusals are DreamErrors with the user's sentence.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from dreamcore.errors import DownloadFailed, LinkRefused

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0
MAX_REDIRECTS = 3
MAX_URL_CHARS = 2048
CHUNK = 64 * 1024
SNIFF_BYTES = 16  # enough for every signature below
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PUBLIC_ONLY = "I only fetch links from public addresses"
USER_AGENT = "dreambot (DeepDream; fetching an image someone linked)"  # some hosts refuse none
IP = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not public, though Python's is_private/is_global miss them in some versions.
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind NAT64 (RFC 6052)
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215)


@dataclass(frozen=True)
class FetchLimits:
    """The bounds of one download; the bot's come from its `intake` settings."""

    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_redirects: int = MAX_REDIRECTS


@dataclass(frozen=True)
class Destinations:
    """Where a fetch may go: `hosts` wherever they resolve, and with `public`, any other host
    whose every address is public. `what` names the input in refusals ("That link"); a host
    outside `hosts` is refused with `elsewhere` when `public` is off."""

    hosts: frozenset[str] = frozenset()
    public: bool = False
    what: str = "That file"
    elsewhere: str = "I can't fetch from there."

    @classmethod
    def links(cls, extra_hosts: tuple[str, ...] | frozenset[str] = ()) -> Destinations:
        """Pasted links: public hosts, and `extra_hosts` (self-hosting) wherever they are."""
        return cls(frozenset(normal_host(h) for h in extra_hosts), True, "That link")

    @classmethod
    def only(cls, hosts: tuple[str, ...], elsewhere: str, what: str = "That file") -> Destinations:
        return cls(frozenset(normal_host(h) for h in hosts), False, what, elsewhere)


# --- which addresses are public ---------------------------------------------------------------


def address_refusal(ip: IP) -> str | None:
    """What kind of non-public address `ip` is ("private", "loopback", ...); None if public.
    IPv4 inside IPv6 (mapped, 6to4, NAT64) is judged as the IPv4 address it reaches."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return address_refusal(inner)
        if ip in _NAT64_LOCAL or ip.is_site_local:
            return "private"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


def literal_address(host: str) -> IP | None:
    """The address a host names by itself: `10.0.0.1`, `::1`, and the legacy IPv4 forms
    (`2130706433`, `127.1`, `0x7f.1`) that the C resolver would turn into one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def normal_host(host: str | None) -> str:
    return (host or "").strip().lower().rstrip(".")


def _points_to(kind: str, what: str, resolved: bool) -> LinkRefused:
    article = "an" if kind[0] in "aeiou" else "a"
    where = f"{what}'s host resolves to" if resolved else f"{what} points to"
    return LinkRefused(f"{where} {article} {kind} address; {PUBLIC_ONLY}.")


class PublicOnlyResolver(AbstractResolver):
    """Looks names up with `dns` and hands the connector only addresses it may dial: a host of
    `destinations.hosts` as it resolves, any other only when every address is public (one
    private address among public ones refuses it: the connector might pick that one)."""

    def __init__(self, dns: AbstractResolver, destinations: Destinations) -> None:
        self.dns = dns
        self.destinations = destinations

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name, where = normal_host(host), self.destinations
        if name not in where.hosts and not where.public:
            raise DownloadFailed(where.elsewhere)
        found = await self.dns.resolve(host, port, family)
        if name in where.hosts:
            return found
        for entry in found:
            try:
                ip = ipaddress.ip_address(entry["host"])
            except ValueError:
                raise _points_to("unknown", where.what, resolved=True) from None
            kind = address_refusal(ip)
            if kind is not None:
                raise _points_to(kind, where.what, resolved=True)
        return found

    async def close(self) -> None:
        await self.dns.close()


# --- the session and the network under it ----------------------------------------------------


def _tcp(resolver: AbstractResolver) -> aiohttp.BaseConnector:
    return aiohttp.TCPConnector(resolver=resolver)


@dataclass(frozen=True)
class Network:
    """How hosts are reached: `dns` makes the resolver names are looked up with, `connector`
    the connector that dials what the vetting resolver returns. Tests pass their own (a DNS
    they control, a connector that reaches only loopback); the vetting stays in between."""

    dns: Callable[[], AbstractResolver] = DefaultResolver
    connector: Callable[[AbstractResolver], aiohttp.BaseConnector] = _tcp


def open_session(
    destinations: Destinations, network: Network | None = None
) -> aiohttp.ClientSession:
    """A session that can only connect where `destinations` allow (call inside a running loop)."""
    network = network or Network()
    resolver = PublicOnlyResolver(network.dns(), destinations)
    return aiohttp.ClientSession(
        connector=network.connector(resolver),
        trust_env=False,  # no proxy from the environment: the connection goes where it was vetted
        auto_decompress=False,  # a gzip bomb stays the few bytes it is (and fails the sniff)
        headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT},
    )


# --- one fetch ---------------------------------------------------------------------------------


def checked_url(url: str, destinations: Destinations) -> URL:
    """`url` parsed, if it may be fetched as far as can be told without DNS; else LinkRefused
    (or DownloadFailed with `destinations.elsewhere` where only named hosts are allowed)."""
    where = destinations

    def refuse(text: str) -> DownloadFailed:
        return LinkRefused(text) if where.public else DownloadFailed(where.elsewhere)

    text = url.strip()
    if len(text) > MAX_URL_CHARS:
        raise refuse(f"{where.what} is too long (over {MAX_URL_CHARS} characters).")
    try:
        parsed = URL(text)
    except (ValueError, TypeError):
        raise refuse(f"{where.what} isn't a web address I can read.") from None
    if parsed.scheme not in ("http", "https"):
        raise refuse("I can only fetch http and https links.")
    if parsed.user is not None or parsed.password is not None:
        raise refuse("I don't fetch links with a user name or password in them.")
    host = normal_host(parsed.host)
    if not host:
        raise refuse(f"{where.what} has no host.")
    if host in where.hosts:
        return parsed
    if not where.public:
        raise refuse("")
    ip = literal_address(host)
    kind = address_refusal(ip) if ip is not None else None
    if kind is not None:
        raise _points_to(kind, where.what, resolved=False)
    return parsed


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    destinations: Destinations,
    limits: FetchLimits,
    declared_size: int | None = None,
) -> bytes:
    """The image or video at `url`, never more than `limits.max_bytes`, within
    `limits.timeout_s` in all; raises DownloadFailed (LinkRefused) with the user's sentence."""
    cap = limits.max_bytes
    if declared_size is not None and declared_size > cap:
        raise _too_big(declared_size, cap)
    target = checked_url(url, destinations)
    try:
        async with asyncio.timeout(limits.timeout_s):
            for _ in range(limits.max_redirects + 1):
                async with session.get(
                    target,
                    allow_redirects=False,  # by hand: every hop passes checked_url and the resolver
                    timeout=aiohttp.ClientTimeout(total=limits.timeout_s),
                ) as resp:
                    if resp.status in REDIRECTS and "Location" in resp.headers:
                        target = _next_hop(target, resp.headers["Location"], destinations)
                        continue
                    if resp.status != 200:
                        raise DownloadFailed(_http_message(resp.status, destinations))
                    if resp.content_length is not None and resp.content_length > cap:
                        raise _too_big(resp.content_length, cap)
                    return await _read_media(resp, cap, destinations)
            raise DownloadFailed("Couldn't download the image: too many redirects.")
    except TimeoutError:
        raise DownloadFailed(
            f"Downloading the image took longer than {limits.timeout_s:g} s; try again."
        ) from None
    except aiohttp.ClientError:
        raise DownloadFailed("Couldn't download the image (network error); try again.") from None


def _next_hop(current: URL, location: str, destinations: Destinations) -> URL:
    try:
        nxt = current.join(URL(location))
    except (ValueError, TypeError):
        raise DownloadFailed("Couldn't download the image: a bad redirect.") from None
    return checked_url(str(nxt), destinations)


async def _read_media(resp: aiohttp.ClientResponse, cap: int, where: Destinations) -> bytes:
    # Content-Length can be absent (chunked) or a lie: count what actually arrives.
    buf = bytearray()
    sniffed = False
    async for chunk in resp.content.iter_chunked(CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise _too_big(None, cap)
        if not sniffed and len(buf) >= SNIFF_BYTES:
            _sniff(bytes(buf[:SNIFF_BYTES]), resp, where)
            sniffed = True
    if buf and not sniffed:
        _sniff(bytes(buf), resp, where)
    return bytes(buf)  # empty: the decoder says so


def _sniff(head: bytes, resp: aiohttp.ClientResponse, where: Destinations) -> None:
    if media_kind(head) is not None:
        return
    sent = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    said = f" (it's {sent})" if sent and where.public else ""
    raise DownloadFailed(
        f"{where.what} isn't an image or a video I can read{said}; "
        "send a PNG, JPEG, GIF or WebP image (or a link straight to one)."
    )


def media_kind(head: bytes) -> Literal["image", "video"] | None:
    """What the first bytes say a file is: an image (every format dreamcore.imaging decodes),
    a video (MP4, MOV, WebM, MKV; handed on as bytes), or None (a web page, junk)."""
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")):
        return "image"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):  # TIFF, BigTIFF
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[4:8] == b"ftyp":  # ISO media: AVIF/HEIF images, MP4/MOV/3GP videos
        return "image" if head[8:12] in (b"avif", b"avis") else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM, Matroska
        return "video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # older QuickTime
        return "video"
    return None


def _too_big(size: int | None, cap: int) -> DownloadFailed:
    what = f" ({_mib(size)})" if size is not None else ""
    return DownloadFailed(f"That image is too big to download{what}; the limit is {_mib(cap)}.")


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KiB"


def _http_message(status: int, where: Destinations) -> str:
    if where.public:
        return f"Couldn't download that link (HTTP {status})."
    hint = {
        404: "; was the message deleted?",
        403: "; the link may have expired",
        410: "; the link may have expired",
    }
    return f"Couldn't download the image (HTTP {status}){hint.get(status, '')}."


# --- the command line: one link, one session ---------------------------------------------------


def fetch_link(
    url: str,
    *,
    extra_hosts: tuple[str, ...] = (),
    limits: FetchLimits | None = None,
    network: Network | None = None,
) -> bytes:
    """Fetch one link synchronously (the command line), with the bot's guard and limits."""
    destinations = Destinations.links(extra_hosts)

    async def one() -> bytes:
        async with open_session(destinations, network) as session:
            return await fetch(
                session, url, destinations=destinations, limits=limits or FetchLimits()
            )

    return asyncio.run(one())


def is_link(text: str) -> bool:
    """Does a command-line input name a link rather than a file?"""
    return text.strip().lower().startswith(("http://", "https://"))
