"""CLI output discipline: with ``--json`` stdout carries exactly one JSON document; humans get rich on stderr.

``LEGALRAG_LOG_LEVEL=DEBUG`` (or INFO, ...) turns on Python logging to stderr, with secrets redacted.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from legalrag.plugin.errors import LegalRAGError
from legalrag.plugin.redact import RedactingFilter, redact

__all__ = ["Output", "cli_terms", "configure_logging", "fail_cleanly", "safe", "to_json"]

#: loggers that write wire-level details (hpack logs HTTP/2 header values, the API key among them)
_WIRE_LOGGERS = ("hpack", "h2", "httpcore", "grpc")

T = TypeVar("T")

#: C0 and C1 control characters (ESC among them) except tab and newline, and DEL
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(value: Any) -> str:
    """Untrusted text (file names, document text, server messages) fit for a rich console line.

    Rich markup is escaped (``[bold]`` shows as itself and ``[/bold]`` cannot crash the print) and
    control characters are replaced by U+FFFD, so no escape sequence from a document or a file
    name reaches the terminal (clearing it, retitling it or recolouring what follows).

    Example:
        >>> safe("[bold]x.txt"), safe("a\x1b[2Jb")
        ('\\\\[bold]x.txt', 'a\ufffd[2Jb')
    """
    from rich.markup import escape

    return escape(_CONTROL.sub("\ufffd", str(value)))


class Output:
    """Where a command writes: ``emit`` for the result, ``console`` for human-only chatter."""

    def __init__(self, as_json: bool) -> None:
        configure_logging()
        self.as_json = as_json
        self.console = Console(stderr=True, quiet=as_json)
        self.stdout = Console(highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return not self.as_json and self.console.is_terminal

    def emit(self, payload: Any, human: Callable[[Console], None] | None = None) -> None:
        if self.as_json:
            sys.stdout.write(to_json(payload) + "\n")
            sys.stdout.flush()
        elif human is not None:
            human(self.stdout)
        else:
            self.stdout.print_json(to_json(payload))


def to_json(payload: Any) -> str:
    """``payload`` as strict JSON: a NaN or infinite number (a metric over nothing, a broken vector's score)
    becomes ``null``, since ``NaN`` is not JSON and breaks the parsers reading ``--json``.

    >>> to_json({"mrr@10": float("nan"), "hits": [1.5, float("inf")]})
    '{"mrr@10": null, "hits": [1.5, null]}'
    """
    text = json.dumps(_finite(payload), ensure_ascii=False, default=str, allow_nan=False)
    # a file name that is not UTF-8 arrives as lone surrogates: stdout must stay valid UTF-8
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr


def configure_logging() -> None:
    """Send logging to stderr at ``LEGALRAG_LOG_LEVEL`` with secrets redacted; nothing if it is unset.

    Wire-level loggers (``hpack``, ``h2``, ``httpcore``, ``grpc``) never go below WARNING, whatever the
    level: they can print request headers, and the API key is one.
    """
    name = os.environ.get("LEGALRAG_LOG_LEVEL", "").strip().upper()
    level = logging.getLevelName(name) if name else None
    if not isinstance(level, int):
        return
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.addFilter(RedactingFilter())
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for wire in _WIRE_LOGGERS:
        logging.getLogger(wire).setLevel(max(level, logging.WARNING))


#: the library speaks in Python argument names; the CLI's messages name the flags instead
_CLI_TERMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), flag)
    for pattern, flag in (
        (r"\bingest_paths\(\.\.\., collection='([^']*)'\)", r"`legalrag ingest PATH --collection \1`"),
        (r"\brecreate=True\b", "--recreate"),
        (r"\bfollow_symlinks=True\b", "--follow-symlinks"),
        (r"\bcollection=(?!\w)", "--collection"),
        (r"\bdoc_id_root=(?!\w)", "--doc-id-root"),
        (r"\bmax_file_mb=(?!\w)", "--max-file-mb"),
        (r"\bcorpus_file=(?!\w)", "--corpus FILE"),
        (r"\bqueries_file=(?!\w)", "--queries FILE"),
        (r"\bdevice='([^']*)'", r"--device \1"),
        (r"\bbackend='([^']*)'", r"--backend \1"),
        (r"\bquantize='([^']*)'", r"--quantize \1"),
        (r"\bmode='([^']*)'", r"--mode \1"),
    )
)


def cli_terms(message: str) -> str:
    """A library message as the CLI shows it: argument names (``recreate=True``) become flags (``--recreate``).

    >>> cli_terms("drop it first (recreate=True), or choose another collection=")
    'drop it first (--recreate), or choose another --collection'
    """
    for pattern, flag in _CLI_TERMS:
        message = pattern.sub(flag, message)
    return message


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()]
        # the options objects name themselves; everything else is the settings root or a section of it
        what = exc.title if exc.title.endswith("Options") else "settings"
        return redact(f"invalid {what}: " + "; ".join(parts))
    return redact(cli_terms(" ".join(str(exc).split())))


@contextmanager
def fail_cleanly(out: Output) -> Iterator[None]:
    """Turn legalrag and settings errors into a one-line message and the documented exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except (LegalRAGError, ValidationError) as exc:
        code = exc.exit_code if isinstance(exc, LegalRAGError) else 2
        message = _one_line(exc)
        if out.as_json:
            out.emit({"error": message, "type": type(exc).__name__, "exit_code": code})
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {safe(message)}", highlight=False)
        raise typer.Exit(code) from None
    except KeyboardInterrupt:
        if out.as_json:
            out.emit({"error": "interrupted", "type": "KeyboardInterrupt", "exit_code": 130})
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug, or input no check caught: one line and exit 1, never a traceback
        logging.getLogger("legalrag").debug("unexpected error", exc_info=True)
        message = redact(f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:2000]
        if out.as_json:
            out.emit({"error": message, "type": type(exc).__name__, "exit_code": 1})
        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error:[/] {safe(message)} (LEGALRAG_LOG_LEVEL=DEBUG shows where)", highlight=False
        )
        raise typer.Exit(1) from None
