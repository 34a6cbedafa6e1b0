"""The nesting check on raw bytes agrees with a character-by-character reading of JSON."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from consent_ledger.json_depth import MAX_DEPTH, too_deep


def reference(text: bytes) -> tuple[int, bool]:
    """Read `text` one character at a time: how deep it nests before a parser would stop (a closing
    bracket with nothing to close, a backslash outside a string), and whether its brackets pair up."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "\\":
            return deepest, False
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
            if depth < 0:
                return deepest, False
    return deepest, depth == 0 and not in_string


tricky_text = st.text(alphabet='[]{}"\\ab:,', max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=60,
)


@settings(max_examples=400)
@given(json_values, st.integers(min_value=0, max_value=8))
def test_agrees_with_the_reference_on_json_documents(value, limit) -> None:
    text = json.dumps(value).encode()
    assert too_deep(text, limit) == (reference(text)[0] > limit)


@settings(max_examples=400)
@given(st.binary(max_size=60).map(lambda raw: bytes(b'[]{}"\\a,'[b % 8] for b in raw)), st.integers(0, 6))
def test_never_lets_a_deep_text_through(text, limit) -> None:
    """On any bytes, not only JSON: whatever nests deeper than the limit is refused, and what pairs up
    within the limit passes."""
    depth, balanced = reference(text)
    if depth > limit:
        assert too_deep(text, limit)
    elif balanced:
        assert not too_deep(text, limit)


def test_the_attack_and_the_limit() -> None:
    assert too_deep(b"[" * 100_000 + b"]" * 100_000)
    assert too_deep(b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1))
    assert not too_deep(b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH)
    assert too_deep(b"[" * 100_000)  # unterminated: still refused before the parser recurses
    assert not too_deep(b'["' + b"[" * 1000 + b'"]')  # brackets inside a string do not nest
    assert too_deep(b'["\\\\"' + b"[" * 40 + b"1" + b"]" * 40 + b"]")  # an escaped backslash ends no string
