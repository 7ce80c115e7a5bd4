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

import base64
import json
import logging
import re
import threading
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["RedactingFilter", "display_url", "redact", "register_secret"]

_MASK = "***"
_secrets: set[str] = set()
_guard = threading.Lock()
#: header-shaped leaks (``api-key: ...``, ``Authorization: Bearer ...``) whatever the value
_HEADER = re.compile(r"(?i)\b(api[-_]key|authorization)(['\"]?\s*[:=,]\s*['\"]?(?:bearer\s+)?)[^\s'\",)}]+")


#: a token that starts with this many characters of a secret is masked whole (a server or library that
#: echoes a key cut short, or with more after it)
PREFIX = 8
_TOKEN_TAIL = r"[^\s'\",)}\]@]*"
_pattern: re.Pattern[str] | None = None


def _forms(secret: str) -> set[str]:
    """The ways a secret shows up in text: as it is, JSON-escaped, URL-encoded, base64 (plain and URL-safe)."""
    raw = secret.encode("utf-8")
    return {
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        base64.b64encode(raw).decode("ascii").rstrip("="),
        base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
    }


def register_secret(value: str | None) -> None:
    """Remember ``value`` so :func:`redact` masks it (values shorter than 4 characters are ignored).

    Surrounding whitespace is ignored (a key read with its line break masks the same)."""
    value = value.strip() if value else value
    if value and len(value) >= 4:
        global _pattern
        with _guard:
            _secrets.add(value)
            _pattern = None


def _secret_pattern() -> re.Pattern[str] | None:
    global _pattern
    with _guard:
        if _pattern is None and _secrets:
            forms = sorted({f for s in _secrets for f in _forms(s)}, key=len, reverse=True)
            # whole forms first (a key in a URL keeps the ``@host`` after it), then cut or extended ones
            parts = [re.escape(f) for f in forms] + [
                re.escape(f[:PREFIX]) + _TOKEN_TAIL for f in forms if len(f) > PREFIX
            ]
            _pattern = re.compile("|".join(parts), re.IGNORECASE)
        return _pattern


def redact(text: str) -> str:
    """``text`` with every registered secret and every header-shaped credential masked: the secret in any
    case, JSON-escaped, URL-encoded or base64, and any token that starts with its first characters."""
    pattern = _secret_pattern()
    if pattern is not None:
        text = pattern.sub(_MASK, text)
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
