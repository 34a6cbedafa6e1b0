"""The EIP-4361 grammar pieces: RFC 3986 patterns and RFC 3339 date-times (ASCII only, matched in full)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from consent_ledger.auth.errors import InvalidMessageError

# RFC 3986 building blocks, ASCII only.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
AUTHORITY = re.compile(
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"  # userinfo
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)"  # IP literal or reg-name (non-empty)
    r"(?::[0-9]*)?"  # port
)
URI = re.compile(rf"[A-Za-z][A-Za-z0-9+\-.]*:(?:[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@]|{_PCT})*")
STATEMENT = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@ ]*")  # reserved / unreserved / " "
REQUEST_ID = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})*")  # *pchar
NONCE = re.compile(r"[A-Za-z0-9]{8,}")
ADDRESS = re.compile(r"0x[0-9A-Fa-f]{40}")
CHAIN_ID = re.compile(r"[0-9]+")


# RFC 3339 `date-time`: full-date "T" partial-time time-offset ("T" and "Z" may be lower case, section 5.6).
_DATE_TIME = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt]"
    r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]+))?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)


def check(pattern: re.Pattern[str], value: object, what: str) -> None:
    """Raise `InvalidMessageError` ("{what}: got {value!r}") unless `value` is a string matching `pattern` in full."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidMessageError(f"{what}: got {value!r}")


def parse_rfc3339(value: str, field: str) -> datetime:
    """Parse an RFC 3339 date-time into an aware datetime (fractions beyond microseconds are truncated).

    Leap seconds (`:60`) are valid RFC 3339 but cannot be represented by `datetime`, so they are refused.
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise InvalidMessageError(f"{field} {value!r} is not an RFC 3339 date-time (like 2021-09-30T16:25:24Z)")
    if match["z"] is not None:
        tz = UTC
    else:
        hours, minutes = int(match["oh"]), int(match["om"])
        if hours > 23 or minutes > 59:
            raise InvalidMessageError(f"{field} {value!r} has an invalid UTC offset")
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if match["sign"] == "-" else offset)
    micros = int((match["frac"] or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"]),
            micros,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise InvalidMessageError(f"{field} {value!r} is not a valid calendar date-time: {exc}") from exc


def check_rfc3339_datetime(value: object, field: str) -> None:
    """Refuse values `format_rfc3339` cannot write: naive datetimes and offsets that are not whole minutes."""
    if not isinstance(value, datetime):
        raise InvalidMessageError(f"{field} must be a datetime, got {value!r}")
    offset = value.utcoffset()
    if offset is None:
        raise InvalidMessageError(f"{field} must be timezone-aware, got {value!r}")
    if offset % timedelta(minutes=1):
        raise InvalidMessageError(f"{field} has a UTC offset that is not whole minutes: {offset}")


def format_rfc3339(value: datetime) -> str:
    """Write an aware datetime as RFC 3339: `Z` for UTC, `+hh:mm` otherwise, fraction only when non-zero."""
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    offset = value.utcoffset()
    if not offset:
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
