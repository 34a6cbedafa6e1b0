"""Every request body, before any route or parser sees it: at most `max_bytes` (413), nested at most
`MAX_DEPTH` levels (400).

A declared Content-Length over the limit is refused without reading a byte; a chunked body is read
chunk by chunk and refused as soon as it passes the limit. The body that passes is handed on whole.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent_ledger.api.problems import problem_for
from consent_ledger.errors import InputError, LedgerError, PayloadTooLargeError
from consent_ledger.json_depth import MAX_DEPTH, too_deep


class BodyLimits:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except LedgerError as error:
            await problem_for(error)(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: disconnect notices
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    raise InputError("Content-Length must be a decimal number of bytes")
                if int(value) > self.max_bytes:
                    raise PayloadTooLargeError(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to serve
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise PayloadTooLargeError(self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if too_deep(body):
            raise InputError(f"the JSON body nests deeper than {MAX_DEPTH} levels: send a flatter document")
        return body
