"""Request bodies against a real `serve` process: no body can crash it, and none larger than the limit is read."""

from __future__ import annotations

import json
import socket

import pytest

from live_server import LiveServer, live_server

pytestmark = pytest.mark.chain
LIMIT = 300_000


@pytest.fixture
def server(chain, tmp_path):
    with live_server(chain, tmp_path, max_body_bytes=str(LIMIT)) as running:
        yield running


def _problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == expected
    return problem


def _still_serving(server: LiveServer) -> None:
    assert server.alive(), server.output()
    status, _, body = server.request("GET", "/v1/catalog")
    assert status == 200, body[:200]


def _raw(server: LiveServer, head: bytes, chunks: list[bytes] = ()) -> tuple[int, bytes]:
    """Send `head` (request line and headers) and `chunks` over a socket; return the status and the reply."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply) < reply.index(b"\r\n\r\n") + 4 + _length(reply):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    return int(reply.split(b" ", 2)[1]), reply


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_a_deeply_nested_body_is_refused_and_the_server_lives_on(server) -> None:
    """100,000 levels would overflow the C stack of the JSON parser (the recursion limit is 100,000)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/v1/auth/login", "/v1/me/submissions", "/v1/permissions/check"):
        status, headers, body = server.request("POST", path, deep, {"content-type": "application/json"})
        problem = _problem(status, headers, body, 400)
        assert "nests deeper than 32 levels" in problem["detail"]
        _still_serving(server)
    nested_object = b'{"a":' * 40_000 + b"1" + b"}" * 40_000
    status, headers, body = server.request("POST", "/v1/auth/login", nested_object, {"content-type": "text/plain"})
    _problem(status, headers, body, 400)
    _still_serving(server)


def test_ordinary_bodies_still_parse(server) -> None:
    body = json.dumps({"message": "hello", "signature": "0x00"}).encode()
    status, headers, reply = server.request("POST", "/v1/auth/login", body, {"content-type": "application/json"})
    assert _problem(status, headers, reply, 401)["title"] == "InvalidMessageError"


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server) -> None:
    head = (
        b"POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 50000000\r\n\r\n"
    )
    status, reply = _raw(server, head)  # not one byte of the body: the answer cannot have waited for it
    assert status == 413, reply[:300]
    assert b"larger than 300000 bytes" in reply
    _still_serving(server)


def test_a_chunked_body_over_the_limit_is_refused(server) -> None:
    head = (
        b"POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b" " * 150_000
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    status, reply = _raw(server, head, [chunk, chunk, chunk, b"0\r\n\r\n"])
    assert status == 413, reply[:300]
    _still_serving(server)
    small = b'{"message": "hello", "signature": "0x00"}'
    status, reply = _raw(server, head, [f"{len(small):x}\r\n".encode() + small + b"\r\n", b"0\r\n\r\n"])
    assert status == 401, reply[:300]  # a chunked body within the limit goes through to the route
