"""Structured JSON logs of the API: one object per line on stderr, never a secret.

Every request leaves one ``request`` line with its request id, the
authenticated actor (id, role, department), method, route template, status
and latency. Other log records of the ``govledger`` loggers go out in the same
shape. Before anything is written, every string is scrubbed: bearer tokens,
govledger API keys (``glk_…``), JWT-looking strings, passwords in URLs and
``password=`` / ``secret=`` / ``token=`` pairs become ``***``. The request
line carries the route template (``/api/v1/accesses/{platform_event_id}``),
not the raw path, and no header values.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from ledger.config import Settings

REQUEST_LOGGER = "govledger.api.request"
_HANDLER_NAME = "govledger-structured"

_SECRETS = (
    (re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+"), r"\1 ***"),
    (re.compile(r"glk_[0-9a-f]{16}_[A-Za-z0-9_-]+"), "glk_***"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "***jwt***"),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@"), r"\1***@"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api_key)=([^\s&\"',;]+)"), r"\1=***"),
    (re.compile(r"PRIVATE\+KEY\+[^\s\"']+"), "PRIVATE+KEY+***"),
)


def scrub(text: str) -> str:
    """``text`` without anything that looks like a credential."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, then the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker process
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(_scrubbed(entry), ensure_ascii=False, default=str)


class ScrubbingTextFormatter(logging.Formatter):
    """``log_format = "text"``: the classic line, scrubbed just the same."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return scrub(line)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Install (or replace) the structured handler on the ``govledger`` and ``uvicorn`` loggers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if settings.log_format == "text":
        text = "%(asctime)s %(levelname)s %(name)s %(message)s"
        handler.setFormatter(ScrubbingTextFormatter(text))
    else:
        handler.setFormatter(JsonFormatter())
    level = logging.getLevelName(settings.log_level.upper())
    for name in ("govledger", "uvicorn.error"):
        target = logging.getLogger(name)
        for old in [h for h in target.handlers if h.get_name() == _HANDLER_NAME]:
            target.removeHandler(old)
        target.addHandler(handler)
        target.setLevel(level if isinstance(level, int) else logging.INFO)
        target.propagate = False
    # uvicorn's access line carries the raw path and query string; the request line above
    # replaces it (route template, request id, actor), so it is switched off.
    logging.getLogger("uvicorn.access").disabled = True
    return handler


# The caller of the current request, filled by the authenticator once it has
# authenticated (in whichever thread the dependency runs: the holder is shared).
RequestCaller = dict[str, str | None]
current_caller: ContextVar[RequestCaller | None] = ContextVar("govledger_caller", default=None)


def note_caller(actor_id: str, role: str, department: str | None) -> None:
    holder = current_caller.get()
    if holder is not None:
        holder.update(actor_id=actor_id, role=role, department=department)


def log_request(
    *,
    request_id: str | None,
    method: str,
    route: str,
    status: int,
    latency_seconds: float,
    caller: RequestCaller,
) -> None:
    logger = logging.getLogger(REQUEST_LOGGER)
    level = logging.ERROR if status >= 500 else logging.INFO
    logger.log(
        level,
        "request",
        extra={
            "fields": {
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(latency_seconds * 1000, 3),
                "actor_id": caller.get("actor_id"),
                "role": caller.get("role"),
                "department": caller.get("department"),
            }
        },
    )
