"""Keep secrets (the Qdrant API key) out of messages and logs.

The key lives in a ``SecretStr`` until the client is built; :func:`register_secret` records the plain
value so that :func:`redact` can scrub it from any text that might carry it (an error from a
transport library, a URL with credentials, a log record from a third-party logger).

Example:
    >>> register_secret("s3cret-key-123")
    >>> redact("GET http://u:s3cret-key-123@host/ failed")
    'GET http://u:***@host/ failed'
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit, urlunsplit

__all__ = ["RedactingFilter", "display_url", "redact", "register_secret"]

_MASK = "***"
_secrets: set[str] = set()
_guard = threading.Lock()
#: header-shaped leaks (``api-key: ...``, ``Authorization: Bearer ...``) whatever the value
_HEADER = re.compile(r"(?i)\b(api[-_]key|authorization)(['\"]?\s*[:=,]\s*['\"]?(?:bearer\s+)?)[^\s'\",)}]+")


def register_secret(value: str | None) -> None:
    """Remember ``value`` so :func:`redact` masks it (values shorter than 4 characters are ignored)."""
    if value and len(value) >= 4:
        with _guard:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and every header-shaped credential masked."""
    with _guard:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{_MASK}", text)


def display_url(url: str) -> str:
    """``url`` without user name or password, fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.username is None and parts.password is None:
        return redact(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return redact(urlunsplit(parts._replace(netloc=netloc)))


class RedactingFilter(logging.Filter):
    """A handler filter that renders each record once, redacted, so no handler sees the secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return True
