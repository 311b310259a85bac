"""Where a data source may connect: public addresses only, unless an admin allow-listed the host.

A destination is judged by the addresses its name resolves to, never by how the name is
spelled (``127.1``, ``0x7f000001``, ``localhost.`` and ``[::ffff:127.0.0.1]`` all resolve to
loopback), and every resolved address must pass. The caller then connects to the exact address
that was checked (:class:`Destination` ``.address``), so a second resolution cannot swap in
another one (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from rivergen.errors import BadRequest, Forbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Checked in order; the first match names why an address is refused. Python's own flags
# (is_private, is_global) changed between patch releases, so the ranges are spelled out here.
_BLOCKED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("unspecified", ("0.0.0.0/8", "::/128")),
    ("loopback", ("127.0.0.0/8", "::1/128")),
    ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("link_local", ("169.254.0.0/16", "fe80::/10")),
    ("shared", ("100.64.0.0/10",)),  # carrier-grade NAT
    ("multicast", ("224.0.0.0/4", "ff00::/8")),
    (
        "reserved",
        (
            "192.0.0.0/24",  # IETF protocol assignments
            "192.0.2.0/24",  # documentation
            "198.18.0.0/15",  # benchmarking
            "198.51.100.0/24",
            "203.0.113.0/24",
            "240.0.0.0/4",  # includes 255.255.255.255
            "100::/64",  # discard
            "2001:db8::/32",  # documentation
            "2001::/23",  # IETF protocol assignments (Teredo handled below)
            "fec0::/10",  # site-local (deprecated)
        ),
    ),
)
_NETWORKS = tuple(
    (reason, tuple(ipaddress.ip_network(net) for net in nets)) for reason, nets in _BLOCKED
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # IPv4-compatible (::a.b.c.d, deprecated); ::/128 and ::1 are caught before this.
    if int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address))
    return None


def blocked_reason(address: IPAddress | str) -> str | None:
    """Why a data source may not connect to ``address`` (``"loopback"``, ``"private"``, ...),
    or None for a public unicast address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(ip.compressed.split("%")[0])
    for reason, networks in _NETWORKS:
        if any(ip.version == net.version and ip in net for net in networks):
            return reason
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return blocked_reason(inner)
    return None


def normalize_host(host: str) -> str:
    """Lower case, no brackets, no trailing dot: the form allow-list entries are compared in."""
    return host.strip().strip("[]").rstrip(".").lower()


def _split_entry(entry: str) -> tuple[str, str | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return entry, None


def is_allow_listed(host: str, port: int, allow: Iterable[str]) -> bool:
    """Whether ``host`` (any port) or ``host:port`` is in an admin allow-list."""
    name = normalize_host(host)
    for entry in allow:
        entry_host, entry_port = _split_entry(entry)
        if normalize_host(entry_host) == name and entry_port in (None, str(port)):
            return True
    return False


@dataclass(frozen=True)
class Destination:
    """A checked place to connect: the name the user gave and the one address to use."""

    host: str
    port: int
    address: str
    allow_listed: bool


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            normalize_host(host), port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise BadRequest(f"the host {host!r} does not resolve", code="host_not_resolved") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise BadRequest(f"the host {host!r} does not resolve", code="host_not_resolved")
    return addresses


async def check_destination(host: str, port: int, allow: Iterable[str]) -> Destination:
    """Resolve ``host`` once and refuse it (403 ``destination_not_allowed``) when any of its
    addresses is not public, unless ``host`` or ``host:port`` is allow-listed."""
    addresses = await resolve(host, port)
    if is_allow_listed(host, port, allow):
        return Destination(host, port, addresses[0], allow_listed=True)
    for address in addresses:
        reason = blocked_reason(address)
        if reason is not None:
            raise Forbidden(
                f"{host}:{port} resolves to a {reason.replace('_', '-')} address; data sources "
                "may reach public addresses only (an admin can allow-list a host)",
                code="destination_not_allowed",
                details={"host": host, "port": port, "reason": reason},
            )
    return Destination(host, port, addresses[0], allow_listed=False)
