"""How qdrant-client failures become legalrag errors: one-line messages naming the server and the fix.

Messages name the server by its URL without credentials and pass every library message through
:func:`~legalrag.plugin.redact.redact`, so the API key never reaches an error.
"""

from __future__ import annotations

import json
from typing import Any

from qdrant_client.http.exceptions import UnexpectedResponse

from legalrag.plugin.errors import ConfigError, InputError, LegalRAGError, StoreError
from legalrag.plugin.redact import display_url, redact
from legalrag.plugin.store.retry import RetriesExhausted, describe_error

__all__ = ["failure", "gave_up", "is_bad_request", "server_of", "status_of"]


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a server answer, if ``exc`` is one."""
    return exc.status_code if isinstance(exc, UnexpectedResponse) else None


def failure(where: str, target: str, action: str, exc: Exception) -> LegalRAGError:
    """The legalrag error for a non-transient failure (a missing collection is the caller's check)."""
    detail = redact(describe_error(exc))
    status = status_of(exc)
    if status in (401, 403):
        return ConfigError(
            f"Qdrant at {where} refused the credentials (HTTP {status}): set "
            "LEGALRAG_QDRANT_API_KEY or LEGALRAG_QDRANT_API_KEY_FILE to the server's API key"
        )
    if isinstance(exc, NotImplementedError):
        return InputError(f"cannot {action} {target} here: {detail}")
    if is_bad_request(exc):
        return InputError(f"Qdrant refused to {action} {target}: {detail}")
    return StoreError(
        f"Qdrant at {where} failed to {action} {target}: {detail} (is the server up, and are "
        "LEGALRAG_QDRANT_URL / LEGALRAG_QDRANT_API_KEY right?)"
    )


def gave_up(where: str, target: str, action: str, exc: RetriesExhausted) -> StoreError:
    """The error for a transient failure that outlasted the retry budget."""
    return StoreError(
        f"Qdrant at {where}: could not {action} {target} after {exc.attempts} attempt(s) in "
        f"{exc.elapsed:.1f} s (last error: {redact(describe_error(exc.last))}): is the server up? "
        "Start it with `docker compose up -d`, check LEGALRAG_QDRANT_URL, or allow more time with "
        "LEGALRAG_QDRANT_RETRY_SECONDS"
    )


def is_bad_request(exc: Exception) -> bool:
    """Whether the server (or local mode) refused the request itself: retrying cannot help."""
    if isinstance(exc, json.JSONDecodeError):  # the server's answer was garbage, not our request
        return False
    if isinstance(exc, ValueError):  # local mode reports bad input as ValueError
        return True
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in (400, 409, 422)
    code = getattr(exc, "code", None)  # grpc.RpcError
    return callable(code) and getattr(code(), "name", "") in ("INVALID_ARGUMENT", "ALREADY_EXISTS")


def server_of(client: Any) -> str:
    """The server a (sync or async) client talks to, credentials stripped; ``local:<path>`` for local mode."""
    inner = getattr(client, "_client", None)
    rest_uri = getattr(inner, "rest_uri", None)
    if isinstance(rest_uri, str):
        where = display_url(rest_uri)
        if getattr(inner, "_prefer_grpc", False):
            where += f" (gRPC port {getattr(inner, '_grpc_port', '?')})"
        return where
    return f"local:{getattr(inner, 'location', None) or getattr(inner, 'path', None) or '?'}"
