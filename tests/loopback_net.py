"""A network for link tests that can only ever reach this machine's loopback.

`LoopbackNetwork` is a `dreamcore.links.Network`: its DNS answers only from the test's own table
(any other name: not found, never the real DNS), and its connector dials only loopback. A test
maps a public-looking name to a public address in the DNS (so the product's vetting sees a public
host), and `routes` sends that address to a loopback test server. Any other non-loopback address
that reaches the connector (the guard let it through) raises and is recorded in `violations`,
at two depths: the addresses the resolver hands over, and each socket about to connect (which
also catches IP literals, which aiohttp dials without a resolver). No packet leaves the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from dreamcore.links import Network

PUBLIC_V4 = "93.184.215.14"  # a public address (routed to loopback, never dialled)
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class TableDNS(AbstractResolver):
    """name -> addresses from a table; nothing else resolves."""

    def __init__(self, table: Mapping[str, list[str]], lookups: list[str]) -> None:
        self.table, self.lookups = table, lookups

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        addresses = self.table.get(host.lower().rstrip("."))
        if not addresses:
            raise OSError(socket.EAI_NONAME, f"{host}: not in the test's DNS")
        return [_result(host, a, port) for a in addresses]

    async def close(self) -> None:
        pass


def _result(hostname: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(
        hostname=hostname, host=address, port=port, family=family, proto=0, flags=0
    )


class _LoopbackOnly(AbstractResolver):
    """Between the product's vetting resolver and the dial: routed addresses go to loopback,
    any other non-loopback one is a violation."""

    def __init__(self, vetted: AbstractResolver, net: LoopbackNetwork) -> None:
        self.vetted, self.net = vetted, net

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        out = []
        for entry in await self.vetted.resolve(host, port, family):
            address = self.net.routes.get(entry["host"], entry["host"])
            if not is_loopback(address):
                self.net.violation(f"the resolver handed over {entry['host']} for {host}")
            out.append(_result(entry["hostname"], address, entry["port"]))
        return out

    async def close(self) -> None:
        await self.vetted.close()


@dataclass
class LoopbackNetwork:
    dns_table: Mapping[str, list[str]] = field(default_factory=dict)
    # a public address the DNS gives -> the loopback address that serves it
    routes: dict[str, str] = field(
        default_factory=lambda: {PUBLIC_V4: "127.0.0.1", PUBLIC_V6: "::1"}
    )
    violations: list[str] = field(default_factory=list)
    dials: list[str] = field(default_factory=list)  # addresses sockets connected to
    lookups: list[str] = field(default_factory=list)  # names the DNS was asked

    def violation(self, what: str) -> None:
        self.violations.append(what)
        raise AssertionError(f"a test tried to leave loopback: {what}")

    def socket_for(self, addr_info) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        if not is_loopback(sockaddr[0]):
            self.violation(f"a socket was about to connect to {sockaddr[0]}")
        self.dials.append(sockaddr[0])
        return socket.socket(family, type_, proto)

    def network(self) -> Network:
        def dns() -> AbstractResolver:
            return TableDNS(self.dns_table, self.lookups)

        def connector(vetted: AbstractResolver) -> aiohttp.BaseConnector:
            return aiohttp.TCPConnector(
                resolver=_LoopbackOnly(vetted, self),
                socket_factory=self.socket_for,
                use_dns_cache=False,
            )

        return Network(dns=dns, connector=connector)
