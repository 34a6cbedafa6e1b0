"""JSON log lines: one object per line, for every logger of the serving process (ours and uvicorn's).

A line holds the time, level, logger and message, plus the fields a caller passes as
`extra={"fields": {...}}` (the request log passes request id, method, route template, status and
duration). Only fields put there on purpose are written: no request bodies, headers or query strings,
and for an exception only its type and the frames of its traceback, never its message (which may
quote input).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

FIELDS = "fields"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["traceback"] = "".join(traceback.format_tb(record.exc_info[2])).rstrip()
        return json.dumps(entry, default=str, separators=(",", ":"))


def logging_config(level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` (and uvicorn `log_config`): every line JSON on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            # uvicorn's own handlers replaced by ours; its access log is off (we log each request ourselves).
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
