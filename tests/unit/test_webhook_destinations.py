"""The webhook SSRF guard: only public addresses outside development (IPv4, IPv6, and IPv6 forms that carry
an IPv4 address), https only outside development, every resolved address checked, one address to connect
to, and a clear InputError for every refusal."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from consent_ledger.errors import InputError
from consent_ledger.webhooks.destinations import parse_destination, resolve_destination

INTERNAL = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.10",  # documentation
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
    "[2001:db8::1]",
]


@pytest.mark.parametrize("host", INTERNAL)
def test_internal_address_literals_are_refused(host: str) -> None:
    with pytest.raises(InputError, match="webhooks go only to public addresses"):
        parse_destination(f"https://{host}/hook", allow_private=False)
    with pytest.raises(InputError, match="webhooks go only to public addresses"):
        resolve_destination(f"https://{host}:8443/hook", allow_private=False, resolver=_never)


def _never(host: str, port: int) -> Sequence[str]:
    raise AssertionError("an address literal is not resolved")


def test_public_literals_pass_and_are_the_address_to_connect_to() -> None:
    for host, address in (("93.184.216.34", "93.184.216.34"), ("[2606:4700::1111]", "2606:4700::1111")):
        resolved = resolve_destination(f"https://{host}/in?x=1", allow_private=False, resolver=_never)
        assert resolved.address == address
        assert resolved.port == 443
        assert resolved.destination.target == "/in?x=1"
    mapped = resolve_destination("https://[::ffff:93.184.216.34]/", allow_private=False, resolver=_never)
    assert mapped.address == "::ffff:5db8:d822"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "must use https://"),
        ("ftp://hooks.example.com/x", "starts with https://"),
        ("javascript:alert(1)", "starts with https://"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https:///x", "names no host"),
        ("https://hooks.example.com:99999/x", "cannot be parsed"),
        ("https://hooks.example.com:0/x", "port 0"),
        ("https://2130706433/", "four decimal numbers"),
        ("https://127.1/", "four decimal numbers"),
        ("https://0x7f.0.0.1/", "four decimal numbers"),
        ("https://localhost/x", "internal name"),
        ("https://api.localhost/x", "internal name"),
        ("https://printer.local/x", "internal name"),
        ("https://bad_host!.example.com/", "not a valid domain name"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
        ("https://hooks.example.com/\n", "spaces or control characters"),
        ("https://[fe80::1%25eth0]/", "network interface"),
        ("", "URL is required"),
        ("https://h.example.com/" + "a" * 2048, "at most 2048"),
    ],
)
def test_malformed_or_internal_urls_get_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_destination(url, allow_private=False)


def test_every_resolved_address_must_be_public() -> None:
    def rebinding(host: str, port: int) -> Sequence[str]:
        assert (host, port) == ("hooks.example.com", 443)
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(InputError, match="resolves to a private-range address") as refused:
        resolve_destination("https://Hooks.Example.COM/in", allow_private=False, resolver=rebinding)
    assert "10.0.0.7" not in str(refused.value)  # internal DNS answers are not echoed back
    with pytest.raises(InputError, match="IPv6 address carrying a loopback address"):
        resolve_destination("https://h.example.com/", allow_private=False, resolver=lambda h, p: ["::ffff:7f00:1"])
    with pytest.raises(InputError, match="does not resolve"):
        resolve_destination("https://h.example.com/", allow_private=False, resolver=lambda h, p: [])

    def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(InputError, match="does not resolve"):
        resolve_destination("https://h.example.com/", allow_private=False, resolver=failing)


def test_the_sender_is_told_the_address_host_and_pinned_url() -> None:
    resolved = resolve_destination(
        "https://hooks.example.com:8443/in?a=1", allow_private=False, resolver=lambda h, p: ["2606:4700::1111"]
    )
    assert resolved.address == "2606:4700::1111"
    assert resolved.pinned_url == "https://[2606:4700::1111]:8443/in?a=1"
    assert resolved.host_header == "hooks.example.com:8443"
    assert resolved.host == "hooks.example.com"
    plain = resolve_destination("https://hooks.example.com", allow_private=False, resolver=lambda h, p: ["1.1.1.1"])
    assert (plain.pinned_url, plain.host_header) == ("https://1.1.1.1:443/", "hooks.example.com")


def test_development_allows_http_and_loopback_but_not_nonsense() -> None:
    local = resolve_destination("http://127.0.0.1:18123/hook", allow_private=True)
    assert (local.address, local.port, local.destination.scheme) == ("127.0.0.1", 18123, "http")
    named = resolve_destination("http://localhost:18123/", allow_private=True, resolver=lambda h, p: ["::1"])
    assert named.address == "::1"
    assert parse_destination("https://10.1.2.3/", allow_private=True).host == "10.1.2.3"
    for host in ("0.0.0.0", "[::]", "224.0.0.1", "[ff02::1]"):
        with pytest.raises(InputError, match="webhooks go only to public addresses"):
            parse_destination(f"http://{host}/", allow_private=True)
    with pytest.raises(InputError, match="user name or password"):
        parse_destination("http://a:b@127.0.0.1/", allow_private=True)


def test_the_system_resolver_resolves_a_literal_name() -> None:
    resolved = resolve_destination("http://localhost:18124/", allow_private=True)
    assert resolved.address in ("127.0.0.1", "::1")
    with pytest.raises(InputError, match="internal name"):
        resolve_destination("https://localhost/", allow_private=False)
