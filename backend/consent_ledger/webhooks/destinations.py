"""Where a webhook may go: the guard that keeps deliveries away from internal addresses (SSRF).

`parse_destination` checks a URL as a brand types it (no DNS): http or https (http only where private
destinations are allowed, i.e. development), a host, no credentials, no fragment, IP literals only in
their standard forms and only public ones. `resolve_destination` does the same and then resolves the
host: every address it resolves to must be public, and the answer names the one address the sender must
connect to (so a DNS answer that changes between the check and the connection, DNS rebinding, cannot
send the request elsewhere). The sender never follows redirects: a 3xx is a failed attempt.

Public means globally routable unicast: loopback, private (RFC 1918, fc00::/7), shared (100.64/10),
link-local, site-local, multicast, reserved, unspecified and documentation ranges are refused, also when
an IPv6 address carries one of them inside (IPv4-mapped, 6to4, Teredo, NAT64). Where private
destinations are allowed (development: a listener on 127.0.0.1), only multicast and unspecified
addresses are refused, since no HTTP server listens there.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from consent_ledger.errors import InputError

MAX_URL = 2048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked endpoint URL, split into what a sender needs."""

    url: str
    scheme: str
    host: str  # lower-case ASCII host name, or an IP address (IPv6 without brackets)
    port: int
    target: str  # path and query, at least "/"
    is_ip: bool


@dataclass(frozen=True, slots=True)
class ResolvedDestination:
    """A destination and the one address (checked public, or allowed in development) to connect to."""

    destination: Destination
    address: str

    @property
    def url(self) -> str:
        return self.destination.url

    @property
    def host(self) -> str:
        return self.destination.host

    @property
    def port(self) -> int:
        return self.destination.port

    @property
    def pinned_url(self) -> str:
        """The URL with the host replaced by `address`: connect there, sending Host (and, over TLS,
        SNI and certificate checks) for `host`."""
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.destination.scheme}://{shown}:{self.port}{self.destination.target}"

    @property
    def host_header(self) -> str:
        d = self.destination
        name = f"[{d.host}]" if ":" in d.host else d.host
        return name if d.port == _DEFAULT_PORTS[d.scheme] else f"{name}:{d.port}"


def address_refusal(address: Address, *, allow_private: bool) -> str | None:
    """Why `address` may not receive webhooks (a short phrase), or None if it may."""
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if allow_private:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = address_refusal(inner, allow_private=False)
            return None if why is None else f"an IPv6 address carrying {why}"
    for test, why in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.is_private, "a private-range address"),
        (address.is_reserved, "a reserved address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (not address.is_global, "an address that is not publicly routable"),
    ):
        if test:
            return why
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_destination(url: str, *, allow_private: bool) -> Destination:
    """`url` checked without DNS; `InputError` saying what is wrong."""
    if not isinstance(url, str) or not url:
        raise InputError("an endpoint URL is required: https://host/path")
    if len(url) > MAX_URL:
        raise InputError(f"an endpoint URL has at most {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InputError("an endpoint URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InputError(f"the endpoint URL cannot be parsed: {error}") from error
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InputError("an endpoint URL starts with https:// (or http:// in development)")
    if scheme == "http" and not allow_private:
        raise InputError("an endpoint URL must use https:// (http:// is allowed only in development)")
    if parts.username is not None or parts.password is not None:
        raise InputError("an endpoint URL cannot carry a user name or password: authenticate by the signature")
    if parts.fragment or url.endswith("#"):
        raise InputError("an endpoint URL cannot have a #fragment (it is never sent)")
    if port == 0:
        raise InputError("port 0 is not a port an endpoint listens on")
    host, is_ip = _host(parts.hostname or "", allow_private)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(url, scheme, host, port or _DEFAULT_PORTS[scheme], target, is_ip)


def _host(raw: str, allow_private: bool) -> tuple[str, bool]:
    if not raw:
        raise InputError("the endpoint URL names no host")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        address = None
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            raise InputError("an endpoint address cannot name a network interface (%zone)")
        _refuse(address, allow_private, "the endpoint URL's address is")
        return str(address), True
    if _legacy_ipv4(raw):
        raise InputError("write an IPv4 address in the endpoint URL as four decimal numbers (a.b.c.d)")
    try:
        name = raw.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise InputError("the endpoint URL's host name is not a valid domain name") from error
    labels = name.rstrip(".").split(".")
    if len(name) > 253 or any(not label or len(label) > 63 for label in labels):
        raise InputError("the endpoint URL's host name is not a valid domain name")
    if any(not all(ch.isalnum() or ch == "-" for ch in label) for label in labels):
        raise InputError("the endpoint URL's host name is not a valid domain name")
    if not allow_private and (labels[-1] in ("localhost", "local", "internal") or name == "localhost"):
        raise InputError(f"the endpoint host {name} is an internal name: webhooks go to public hosts")
    return name.rstrip("."), False


def _legacy_ipv4(raw: str) -> bool:
    """True for the old numeric forms inet_aton reads as an address (127.1, 2130706433, 0x7f.0.0.1)."""
    try:
        socket.inet_aton(raw)
    except OSError:
        return False
    return True


def _refuse(address: Address, allow_private: bool, subject: str) -> None:
    why = address_refusal(address, allow_private=allow_private)
    if why is not None:
        raise InputError(f"{subject} {why}: webhooks go only to public addresses")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host` (TCP)."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in answers]


def resolve_destination(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> ResolvedDestination:
    """`url` checked, its host resolved, every address checked; the first one is where to connect.
    `InputError` if the URL is refused, the host does not resolve, or any address is not allowed."""
    destination = parse_destination(url, allow_private=allow_private)
    if destination.is_ip:
        return ResolvedDestination(destination, destination.host)
    try:
        found = list(resolver(destination.host, destination.port))
    except (OSError, UnicodeError) as error:
        raise InputError(f"the endpoint host {destination.host} does not resolve") from error
    addresses: list[Address] = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError as error:
            raise InputError(f"the endpoint host {destination.host} resolves to something not an address") from error
    if not addresses:
        raise InputError(f"the endpoint host {destination.host} does not resolve")
    for address in addresses:
        _refuse(address, allow_private, f"the endpoint host {destination.host} resolves to")
    return ResolvedDestination(destination, str(addresses[0]))
