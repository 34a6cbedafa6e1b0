"""Secrets out of output: the one redaction used by RPC errors, logs, the API and the CLI.

Node providers put API keys in the URL: as user info (`https://user:key@host`), in the query
(`?apikey=...`) or as a path segment (`/v3/<32 hex digits>`). `redact_url` keeps what helps a
reader find the node (scheme, host, port, short path segments, query parameter names) and replaces
the rest with `***`; `redact_text` does the same for every URL inside a message.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"
# Path segments at least this long are treated as keys (provider keys are 32+ characters; names
# such as `v3`, `rpc` or `mainnet` are short).
SECRET_SEGMENT = 16
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>()\[\]{},]+")


def redact_url(url: str) -> str:
    """`url` with user info, query values, fragment and long path segments replaced by `***`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # not even a URL we can take apart: show nothing of it
        return MASK
    if not parts.scheme or not host:
        return MASK
    authority = f"[{host}]" if ":" in host else host
    if port is not None:
        authority += f":{port}"
    if "@" in parts.netloc:
        authority = f"{MASK}@{authority}"
    path = "/".join(MASK if len(segment) >= SECRET_SEGMENT else segment for segment in parts.path.split("/"))
    text = f"{parts.scheme}://{authority}{path}"
    if parts.query:
        names = [pair.partition("=")[0] for pair in parts.query.split("&")]
        text += "?" + "&".join(f"{name}={MASK}" if name and len(name) < SECRET_SEGMENT else MASK for name in names)
    if parts.fragment:
        text += "#" + MASK
    return text


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted by `redact_url` (punctuation ending a sentence stays out of it)."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = len(url) - len(url.rstrip(".:;!?"))
        return redact_url(url[: len(url) - trail]) + url[len(url) - trail :]

    return _URL.sub(one, text)
