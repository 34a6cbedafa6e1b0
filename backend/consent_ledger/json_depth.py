"""How deep a JSON text nests, decided on the raw bytes before any parser sees them.

Python's JSON parser recurses once per nesting level and relies on the interpreter's recursion
limit to stop. eth-account imports py_ecc, which raises that limit to 100,000, so a body nested
100,000 levels deep overflows the C stack and kills the process before any Python error is raised.
`too_deep` answers without recursion and in linear time, so it can run on every untrusted body.
"""

from __future__ import annotations

MAX_DEPTH = 32  # our deepest legitimate body (a permission check) nests 4 levels
_KEEP = b'[]{}"'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_SAME = bytes.maketrans(b"{}", b"[]")


def too_deep(text: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if `text` nests arrays/objects deeper than `limit` levels (or has more than `limit`
    brackets that do not pair up: such a text is not JSON anyway). Every step is a C-level pass
    over the bytes, so the cost is linear and small."""
    if text.count(b"[") + text.count(b"{") <= limit:  # fast path: cannot nest deeper than it opens
        return False
    # Escaped backslashes, then escaped quotes, can neither open nor close a string: drop them; then
    # keep only quotes and brackets, and drop the strings (what lies between each pair of quotes).
    if b"\\" in text:
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = text.translate(None, _DROP)
    outside = skeleton.replace(b'""', b"")  # strings without brackets, the usual case
    if b'"' in outside:  # some string holds a bracket (or one is unterminated): the exact way
        outside = b"".join(skeleton.split(b'"')[::2])
    brackets = outside.translate(_SAME)
    for _ in range(limit):  # each pass removes the innermost level
        if not brackets:
            return False
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):  # nothing pairs up: unbalanced
            return True
        brackets = inner
    return bool(brackets)
