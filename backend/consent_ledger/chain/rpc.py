"""A small JSON-RPC client over keep-alive `http.client` connections, for hot paths, with short timeouts
and a circuit breaker.

web3.py costs ~0.7 ms of client overhead per request and re-asks eth_chainId; this client costs
~0.1 ms and caches the chain id. One connection per thread; a connection the node closed while idle is
reopened once.

A node that hangs (stopped, overloaded, a dead network path) must not hold every request for the length
of a TCP timeout: each call waits at most `timeout` seconds (`slow_timeout` for the calls that are slow by
nature: gas estimates, sending, log queries), and a call that found the node silent or unreachable opens
the circuit: for `cooldown` seconds every call fails at once with `NodeUnavailableError` (an HTTP 503 in
the API) instead of waiting again; then one call probes the node, and its answer closes the circuit.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from consent_ledger.errors import NodeUnavailableError, RpcError
from consent_ledger.redaction import redact_url

# A number, a tag ("latest", "safe", "finalized"...), or an EIP-1898 object such as
# {"blockHash": "0x...", "requireCanonical": True}, which pins a call to one exact block.
BlockRef = int | str | dict[str, Any]


def block_param(block: BlockRef) -> str | dict[str, Any]:
    return hex(block) if isinstance(block, int) else block


DEFAULT_TIMEOUT = 30.0
SLOW_TIMEOUT = 30.0

CircuitState = Literal["closed", "open", "probing"]


class CircuitBreaker:
    """Fails calls fast while a node is known to be down.

    closed: calls go through. A failure opens the circuit: calls fail at once until `cooldown` seconds have
    passed; then exactly one call (the probe) goes through while the others keep failing fast, and the
    probe's outcome closes the circuit or opens it for another `cooldown`. Thread-safe."""

    def __init__(self, cooldown: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None
        self._probing = False
        self.last_failure: str | None = None

    @property
    def state(self) -> CircuitState:
        with self._lock:
            if self._open_until is None:
                return "closed"
            return "probing" if self._probing else "open"

    def allow(self) -> str | None:
        """None when the call may go ahead; else why not (the circuit is open)."""
        with self._lock:
            if self._open_until is None:
                return None
            now = self._clock()
            if now >= self._open_until and not self._probing:
                self._probing = True
                return None
            wait = max(self._open_until - now, 0.0)
            return f"{self.last_failure}; not retried for another {wait:.1f}s"

    def succeeded(self) -> None:
        with self._lock:
            self._open_until = None
            self._probing = False

    def failed(self, reason: str) -> None:
        with self._lock:
            self._open_until = self._clock() + self.cooldown
            self._probing = False
            self.last_failure = reason


class RpcClient:
    """Thread-safe JSON-RPC over HTTP(S) with connection reuse, timeouts and a circuit breaker."""

    def __init__(
        self,
        url: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        slow_timeout: float = SLOW_TIMEOUT,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NodeUnavailableError(f"unsupported RPC URL {redact_url(url)!r}: use http:// or https://")
        self.url = url  # may hold the provider's API key: messages use `display_url`
        self.display_url = redact_url(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.slow_timeout = max(slow_timeout, timeout)
        self.breaker = breaker or CircuitBreaker()
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._chain_id: int | None = None

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def _post(self, body: bytes, slow: bool = False) -> Any:
        refused = self.breaker.allow()
        if refused is not None:
            raise NodeUnavailableError(f"the node at {self.display_url} is not answering ({refused})")
        timeout = self.slow_timeout if slow else self.timeout
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
            except TimeoutError as exc:
                self._drop_connection()
                raise self._down(f"timed out after {timeout:g}s") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                if attempt == 1 and reused:
                    continue  # the node closed the idle keep-alive connection: one fresh try
                raise self._down(str(exc) or type(exc).__name__) from exc
            if response.status != 200:
                raise self._down(f"HTTP {response.status}: {payload[:200]!r}")
            try:
                reply = json.loads(payload)
            except ValueError as exc:
                raise self._down(f"an answer that is not JSON: {payload[:80]!r}") from exc
            self.breaker.succeeded()
            return reply
        raise AssertionError("unreachable")

    def _down(self, reason: str) -> NodeUnavailableError:
        self.breaker.failed(reason)
        return NodeUnavailableError(f"no answer from {self.display_url}: {reason}")

    def request(self, method: str, params: list[Any] | None = None, *, slow: bool = False) -> Any:
        """Send one call and return its `result`, or raise `RpcError` with the node's message. `slow` gives
        the call `slow_timeout` instead of `timeout` (for calls that take long on a healthy node)."""
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []})
        reply = self._post(body.encode(), slow)
        if "error" in reply:
            error = reply["error"]
            raise RpcError(method, int(error.get("code", 0)), str(error.get("message")), error.get("data"))
        return reply["result"]

    def batch(self, calls: list[tuple[str, list[Any]]], *, slow: bool = False) -> list[Any]:
        """Many calls in one HTTP request (JSON-RPC batch); results in call order. Any error raises."""
        if not calls:
            return []
        first = next(self._ids)
        body = [
            {"jsonrpc": "2.0", "id": first + n, "method": method, "params": params}
            for n, (method, params) in enumerate(calls)
        ]
        for _ in calls[1:]:
            next(self._ids)
        replies = self._post(json.dumps(body).encode(), slow)
        if not isinstance(replies, list) or len(replies) != len(calls):
            raise RpcError("batch", 0, f"expected {len(calls)} answers, got {type(replies).__name__}")
        by_id = {reply.get("id"): reply for reply in replies}
        results = []
        for n, (method, _params) in enumerate(calls):
            reply = by_id.get(first + n)
            if reply is None:
                raise RpcError(method, 0, "missing from the batch answer")
            if "error" in reply:
                error = reply["error"]
                raise RpcError(method, int(error.get("code", 0)), str(error.get("message")), error.get("data"))
            results.append(reply["result"])
        return results

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId"), 16)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber"), 16)

    def get_block(self, block: BlockRef) -> dict[str, Any]:
        result = self.get_block_or_none(block)
        if result is None:
            raise RpcError("eth_getBlockByNumber", 0, f"block {block} not found")
        return result

    def get_block_or_none(self, block: BlockRef) -> dict[str, Any] | None:
        """The block's header, or None when the chain has no such block."""
        result = self.request("eth_getBlockByNumber", [block_param(block), False])
        return None if result is None else dict(result)

    def eth_call(self, to: str, data: str, block: BlockRef = "latest", gas: int | None = None) -> str:
        call: dict[str, Any] = {"to": to, "data": data}
        if gas is not None:
            call["gas"] = hex(gas)
        return str(self.request("eth_call", [call, block_param(block)]))

    def get_code(self, address: str, block: BlockRef = "latest") -> str:
        return str(self.request("eth_getCode", [address, block_param(block)]))

    def close(self) -> None:
        self._drop_connection()
