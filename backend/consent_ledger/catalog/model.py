"""The versioned catalog naming each bit of a grant's `categories` and `purposes` uint64 masks.

`catalog.json` (packaged here) also holds the privacy notice whose hash customers sign. A published bit
is never renumbered or reused. Nothing is read at import time: use `load_catalog()`/`default_catalog()`.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from eth_utils.crypto import keccak

from consent_ledger.domain import UINT64_MAX, Terms, terms_of
from consent_ledger.errors import ConfigError, InputError

SCHEMA = 1
MAX_BIT = 63
_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_E = TypeVar("_E", bound="Entry")
_PLURAL = {"category": "categories", "purpose": "purposes"}


@dataclass(frozen=True, slots=True)
class Entry:
    """What purposes and categories share: a dotted name, its bit, wallet-page texts, a W3C DPV IRI."""

    name: str
    bit: int
    label: str
    description: str
    dpv: str

    @property
    def mask(self) -> int:
        return 1 << self.bit


@dataclass(frozen=True, slots=True, kw_only=True)
class Purpose(Entry):
    """Why a brand may use data. `tcf_purpose_id` is the IAB TCF v2.2 purpose id, when there is one."""

    tcf_purpose_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Category(Entry):
    """A kind of personal data. `cpra_sensitive` marks CPRA "sensitive personal information"."""

    cpra_sensitive: bool


@dataclass(frozen=True, slots=True)
class Notice:
    """The privacy notice shown before signing; `hash` is the `noticeHash` the customer signs."""

    version: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def hash_bytes(self) -> bytes:
        """keccak256 of the UTF-8 text: the 32 bytes that go in the signed `noticeHash` field."""
        return keccak(text=self.text)

    @property
    def hash(self) -> str:
        return "0x" + self.hash_bytes.hex()


@dataclass(frozen=True, slots=True)
class Catalog:
    """One version of the taxonomy. Masks are checked against it before anything is signed or sent."""

    version: str
    schema: int
    purposes: tuple[Purpose, ...]
    categories: tuple[Category, ...]
    notice: Notice

    def purpose(self, name: str) -> Purpose:
        """The purpose called `name`; `InputError` (with close matches) when there is none."""
        return _find(self.purposes, name, "purpose")

    def category(self, name: str) -> Category:
        """The category called `name`; `InputError` (with close matches) when there is none."""
        return _find(self.categories, name, "category")

    def category_mask(self, names: Iterable[str]) -> int:
        return _mask(self.categories, names, "category")

    def purpose_mask(self, names: Iterable[str]) -> int:
        return _mask(self.purposes, names, "purpose")

    def category_names(self, mask: int) -> list[str]:
        return _names(self.categories, mask, "category", self.version)

    def purpose_names(self, mask: int) -> list[str]:
        return _names(self.purposes, mask, "purpose", self.version)

    def check_category_mask(self, mask: int) -> int:
        return _check(self.categories, mask, "category", self.version)

    def check_purpose_mask(self, mask: int) -> int:
        return _check(self.purposes, mask, "purpose", self.version)

    def terms(self, allow: Iterable[tuple[str, Iterable[str]]]) -> Terms:
        """Per-purpose terms from (purpose name, category names) pairs, ascending by purpose; a
        purpose named twice gets the union of its categories. Each purpose needs a category."""
        pairs = []
        for purpose_name, category_names in allow:
            purpose = self.purpose(purpose_name)
            names = list(category_names)
            if not names:
                raise InputError(f"purpose {purpose.name!r} names no data category: allow at least one for it")
            pairs.append((purpose.bit, self.category_mask(names)))
        if not pairs:
            raise InputError("no purposes given: name at least one, each with the data it may use")
        return terms_of(pairs)

    def check_terms(self, terms: Terms) -> Terms:
        """Every purpose and category of `terms` is in this catalog (`InputError` otherwise)."""
        for index, term in enumerate(terms):
            if not 0 <= term.purpose <= MAX_BIT:
                raise InputError(f"terms[{index}]: purpose {term.purpose} is not a purpose number (0 to {MAX_BIT})")
            try:
                self.check_purpose_mask(term.bit)
                self.check_category_mask(term.categories)
            except InputError as error:
                raise InputError(f"terms[{index}]: {error}") from error
        return terms

    def terms_names(self, terms: Terms) -> list[dict[str, Any]]:
        """Terms by name, for people and JSON: [{purpose, categories: [names]}], ascending."""
        names = {p.bit: p.name for p in self.purposes}
        return [
            {"purpose": names.get(t.purpose, f"bit {t.purpose}"), "categories": self.category_names(t.categories)}
            for t in terms
        ]

    def parse_allow(self, specs: Iterable[str]) -> Terms:
        """Terms from CLI specs `purpose=category,category` (each purpose with the data it may use)."""
        pairs = []
        for spec in specs:
            purpose, sep, categories = spec.partition("=")
            if not sep:
                raise InputError(f"--allow {spec!r}: write PURPOSE=CATEGORY[,CATEGORY...]")
            pairs.append((purpose.strip(), [c.strip() for c in categories.split(",") if c.strip()]))
        return self.terms(pairs)

    def parse_categories(self, spec: str) -> int:
        return _parse(self.categories, spec, "category", self.version)

    def parse_purposes(self, spec: str) -> int:
        return _parse(self.purposes, spec, "purpose", self.version)

    @property
    def sensitive_category_mask(self) -> int:
        """Every CPRA-sensitive category, as one mask (test `mask & this` before releasing data)."""
        return functools.reduce(int.__or__, (c.mask for c in self.categories if c.cpra_sensitive), 0)

    def to_json(self) -> dict[str, Any]:
        """The catalog for `GET /v1/catalog`. Masks are hex strings: JavaScript numbers lose uint64 bits."""
        n = self.notice
        return {
            "version": self.version,
            "schema": self.schema,
            "purposes": [_entry_json(p, tcf_purpose_id=p.tcf_purpose_id) for p in self.purposes],
            "categories": [_entry_json(c, cpra_sensitive=c.cpra_sensitive) for c in self.categories],
            "notice": dict(version=n.version, paragraphs=list(n.paragraphs), text=n.text, hash=n.hash),
        }


def _entry_json(entry: Entry, **extra: object) -> dict[str, object]:
    base = {"name": entry.name, "bit": entry.bit, "mask": hex(entry.mask), "label": entry.label}
    return {**base, "description": entry.description, **extra, "dpv": entry.dpv}


def _find(entries: Sequence[_E], name: str, kind: str) -> _E:
    """The entry called `name`, else an `InputError` suggesting close matches."""
    for entry in entries:
        if entry.name == name:
            return entry
    known = [e.name for e in entries]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else f"known {_PLURAL[kind]}: {', '.join(known)}"
    raise InputError(f"unknown {kind} {name!r}: {hint}")


def _mask(entries: Sequence[Entry], names: Iterable[str], kind: str) -> int:
    mask = 0
    for name in (names,) if isinstance(names, str) else names:
        mask |= _find(entries, name, kind).mask
    if mask == 0:
        raise InputError(f"no {_PLURAL[kind]} given: name at least one")
    return mask


def _check(entries: Sequence[Entry], mask: int, kind: str, version: str) -> int:
    if isinstance(mask, bool):
        raise InputError(f"the {kind} mask must be an integer, not {mask}")
    if mask == 0:
        raise InputError(f"the {kind} mask is zero: a grant must cover at least one {kind}")
    if not 0 < mask <= UINT64_MAX:
        raise InputError(f"the {kind} mask {hex(mask)} does not fit in a uint64 (1 to 2**64-1)")
    known = {e.bit for e in entries}
    unknown = [bit for bit in range(MAX_BIT + 1) if mask >> bit & 1 and bit not in known]
    if unknown:
        listed = ", ".join(map(str, unknown))
        raise InputError(f"the {kind} mask {hex(mask)} sets bit(s) {listed}, unknown to catalog {version}")
    return mask


def _names(entries: Sequence[Entry], mask: int, kind: str, version: str) -> list[str]:
    if mask == 0:
        return []
    _check(entries, mask, kind, version)
    return [e.name for e in sorted(entries, key=lambda e: e.bit) if mask >> e.bit & 1]


def _parse(entries: Sequence[Entry], spec: str, kind: str, version: str) -> int:
    """Comma-separated names, or a decimal or 0x-hex mask, checked against the catalog."""
    text = spec.strip()
    if re.fullmatch(r"[0-9]+|0[xX][0-9a-fA-F]+", text):
        if len(text.lstrip("0xX")) > 20:  # past uint64 anyway; also keeps int() clear of its digit limit
            raise InputError(f"the {kind} mask {text[:24]}... does not fit in a uint64 (1 to 2**64-1)")
        mask = int(text, 16) if text[1:2] in ("x", "X") else int(text)
    else:
        mask = _mask(entries, [part.strip() for part in text.split(",") if part.strip()], kind)
    return _check(entries, mask, kind, version)


# Loading and validating catalog.json. Each field spec maps a key to (accepted JSON types, description).
_Spec = dict[str, tuple[type | tuple[type, ...], str]]
_STR, _INT = (str, "a non-empty string"), (int, "an integer")
_LIST, _OBJ = (list, "a list"), (dict, "an object")
_ENTRY: _Spec = {"name": _STR, "bit": _INT, "label": _STR, "description": _STR, "dpv": _STR}
_PURPOSE: _Spec = {**_ENTRY, "tcf_purpose_id": ((int, type(None)), "an integer or null")}
_CATEGORY: _Spec = {**_ENTRY, "cpra_sensitive": (bool, "true or false")}
_NOTICE: _Spec = {"version": _STR, "paragraphs": _LIST}
_RETIRED: _Spec = {"purposes": _LIST, "categories": _LIST}
_ROOT: _Spec = {
    "schema": _INT,
    "version": _STR,
    "bit_policy": _STR,
    "retired_bits": _OBJ,
    "purposes": _LIST,
    "categories": _LIST,
    "notice": _OBJ,
}


def _fields(raw: object, where: str, spec: _Spec) -> dict[str, Any]:
    """`raw` when it is an object with exactly the keys of `spec`, each of the right JSON type."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a JSON object")
    missing, unknown = [k for k in spec if k not in raw], sorted(set(raw) - set(spec))
    if missing:
        raise ConfigError(f"{where}: missing required field(s) {', '.join(missing)}")
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(spec)}")
    for key, (kinds, described) in spec.items():
        value = raw[key]
        wrong_type = not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool)
        if wrong_type or (isinstance(value, str) and not value.strip()):
            raise ConfigError(f"{where}: {key!r} must be {described}, got {json.dumps(value)[:60]}")
    return raw


def _entries(raw: list[Any], where: str, spec: _Spec, retired: list[Any], cls: type[_E]) -> tuple[_E, ...]:
    if not raw:
        raise ConfigError(f"{where}: the list is empty")
    if not all(type(b) is int and 0 <= b <= MAX_BIT for b in retired):
        raise ConfigError(f"{where}: its retired_bits must be bit numbers 0..{MAX_BIT}")
    entries: list[_E] = []
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        fields = _fields(item, here, spec)
        name, bit, dpv = fields["name"], fields["bit"], fields["dpv"]
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{here}: name {name!r} must be dotted lower-case words like 'contact.email'")
        if not 0 <= bit <= MAX_BIT:
            raise ConfigError(f"{here}: {name!r} has bit {bit}, outside 0..{MAX_BIT} (masks are uint64)")
        if not dpv.startswith("https://w3id.org/dpv"):
            raise ConfigError(f"{here}: dpv {dpv!r} is not a W3C DPV IRI (https://w3id.org/dpv...)")
        if bit in retired:
            raise ConfigError(f"{here}: {name!r} uses retired bit {bit}; a published bit is never reused")
        for other in entries:
            if name == other.name or bit == other.bit:
                clash = f"name {name!r}" if name == other.name else f"bit {bit} (also {other.name!r})"
                raise ConfigError(f"{here}: duplicate {clash}; names and bits must be unique")
        entries.append(cls(**fields))
    return tuple(entries)


def _parse_catalog(raw: object, where: str) -> Catalog:
    root = _fields(raw, where, _ROOT)
    if root["schema"] != SCHEMA:
        raise ConfigError(f"{where}: schema {root['schema']} is not supported (this code reads {SCHEMA})")
    retired = _fields(root["retired_bits"], f"{where}: retired_bits", _RETIRED)
    purposes = _entries(root["purposes"], f"{where}: purposes", _PURPOSE, retired["purposes"], Purpose)
    tcf_ids = [p.tcf_purpose_id for p in purposes if p.tcf_purpose_id is not None]
    if len(tcf_ids) != len(set(tcf_ids)) or any(tcf < 1 for tcf in tcf_ids):
        raise ConfigError(f"{where}: purposes: tcf_purpose_id values must be distinct positive integers")
    raw_categories, retired_categories = root["categories"], retired["categories"]
    categories = _entries(raw_categories, f"{where}: categories", _CATEGORY, retired_categories, Category)
    notice = _fields(root["notice"], f"{where}: notice", _NOTICE)
    paragraphs = notice["paragraphs"]
    if not paragraphs or not all(isinstance(p, str) and p.strip() for p in paragraphs):
        raise ConfigError(f"{where}: notice: 'paragraphs' must be a non-empty list of non-empty strings")
    notice_text = Notice(notice["version"], tuple(paragraphs))
    return Catalog(root["version"], SCHEMA, purposes, categories, notice_text)


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog file (default: the packaged catalog.json); `ConfigError` if broken."""
    where = str(Path(__file__).with_name("catalog.json") if path is None else path)
    try:
        text = Path(where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read catalog file {where}: {error}") from error
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where}: not valid JSON: {error.msg} (line {error.lineno})") from error
    return _parse_catalog(raw, where)


@functools.lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The packaged catalog, loaded once on first use."""
    return load_catalog()
