"""Outbound URL guard: labelops calls model servers, embedders and item URLs on a tenant's
word, so a URL must not reach the platform's own network (SSRF).

:func:`check_url` resolves the host and refuses any address that is loopback, link-local
(incl. the cloud metadata endpoints 169.254.169.254 / fd00:ec2::254), private (RFC 1918,
unique-local), shared (100.64/10), multicast, reserved or unspecified — unless the address or
host is allow-listed (``OutboundPolicy.allow``: CIDRs or host names, e.g. a cluster-internal
model server). Every address a name resolves to must pass (a name with one public and one
private address is refused). The caller connects to the checked addresses' host right after;
a resolver that answers differently within that window (DNS rebinding) is out of scope of
this check and is why egress should also be limited in the network (deploy/).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import FieldViolation, InvalidArgument

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REASON_URL_NOT_ALLOWED = "OUTBOUND_URL_NOT_ALLOWED"

_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class OutboundPolicy:
    """Which outbound destinations are allowed besides public addresses.

    ``allow``: CIDRs (``10.1.0.0/16``, ``127.0.0.1/32``) or exact host names; ``schemes``:
    the URL schemes accepted.
    """

    allow: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ("http", "https")

    @classmethod
    def of(
        cls, allow: Iterable[str] = (), schemes: Iterable[str] = ("http", "https")
    ) -> OutboundPolicy:
        return cls(tuple(a.strip() for a in allow if a.strip()), tuple(schemes))

    def _networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        nets = []
        for entry in self.allow:
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
        return nets

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in {a.lower().rstrip(".") for a in self.allow}

    def address_allowed(self, addr: IPAddress) -> bool:
        return any(addr in net for net in self._networks() if net.version == addr.version)


def forbidden_reason(addr: IPAddress) -> str | None:
    """Why ``addr`` is not a public destination, or None when it is."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return forbidden_reason(addr.ipv4_mapped)
    if addr in _METADATA:
        return "a cloud metadata address"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_unspecified:
        return "an unspecified address"
    if addr.is_multicast:
        return "a multicast address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if addr.is_private:
        return "a private address"
    if addr.is_reserved:
        return "a reserved address"
    return None


def _refuse(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field}: {message}",
        [FieldViolation(field, message)],
        reason=REASON_URL_NOT_ALLOWED,
    )


def split_url(url: str, policy: OutboundPolicy, field: str) -> tuple[str, int | None]:
    """(host, port) of ``url``; INVALID_ARGUMENT when the URL is not one we would call."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(field, "not a valid URL") from None
    if parts.scheme.lower() not in policy.schemes:
        raise _refuse(field, f"scheme must be one of {', '.join(policy.schemes)}")
    host = parts.hostname
    if not host:
        raise _refuse(field, "the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise _refuse(field, "credentials in the URL are not accepted")
    return host, port


def check_addresses(
    host: str, addresses: Iterable[IPAddress], policy: OutboundPolicy, field: str
) -> None:
    """INVALID_ARGUMENT unless every address of ``host`` may be called."""
    if policy.host_allowed(host):
        return
    found = False
    for addr in addresses:
        found = True
        if policy.address_allowed(addr):
            continue
        why = forbidden_reason(addr)
        if why is not None:
            raise _refuse(field, f"the host resolves to {why}; outbound calls go to public hosts")
    if not found:
        raise _refuse(field, "the host does not resolve")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


async def check_url(url: str, policy: OutboundPolicy, *, field: str = "url") -> None:
    """Refuse ``url`` (INVALID_ARGUMENT naming ``field``) unless it may be called."""
    host, port = split_url(url, policy, field)
    literal = _literal(host)
    if literal is not None:
        check_addresses(host, [literal], policy, field)
        return
    if policy.host_allowed(host):
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refuse(field, "the host does not resolve") from None
    addrs = []
    for info in infos:
        a = _literal(str(info[4][0]))
        if a is not None:
            addrs.append(a)
    check_addresses(host, addrs, policy, field)
