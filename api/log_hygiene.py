"""No credential in the access log (issue #7 item 5; docs/security.md "Secrets").

Credentials belong in the ``Authorization`` header, which uvicorn never logs;
a client that puts one in the URL instead (``?token=glk_...``) would have it
written to the access log with the path. This filter rewrites the logged path:
every query value that looks like a credential, or sits under a name that
usually carries one, becomes ``<redacted>``.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

ACCESS_LOGGER = "uvicorn.access"
_SECRET_NAMES = re.compile(r"token|key|secret|password|passwd|auth|jwt|credential", re.I)
# An API key (glk_<id>_<secret>), a JWT (three base64url parts), a checkpoint signing key.
_SECRET_VALUES = re.compile(
    r"glk_|^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$|PRIVATE\+KEY", re.I
)


def redact_path(path: str) -> str:
    base, sep, query = path.partition("?")
    if not sep:
        return path
    pairs = [
        (k, "<redacted>" if _SECRET_NAMES.search(k) or _SECRET_VALUES.search(v) else v)
        for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{base}?{urlencode(pairs, safe='<>')}"


class RedactCredentials(logging.Filter):
    """uvicorn's access record: (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
