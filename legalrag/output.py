"""CLI output discipline: with ``--json`` stdout carries exactly one JSON document; humans get rich on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from legalrag.plugin.errors import LegalRAGError

__all__ = ["Output", "fail_cleanly"]

T = TypeVar("T")


class Output:
    """Where a command writes: ``emit`` for the result, ``console`` for human-only chatter."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(stderr=True, quiet=as_json)
        self.stdout = Console(highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return not self.as_json and self.console.is_terminal

    def emit(self, payload: Any, human: Callable[[Console], None] | None = None) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
            sys.stdout.flush()
        elif human is not None:
            human(self.stdout)
        else:
            self.stdout.print_json(json.dumps(payload, ensure_ascii=False, default=str))


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()]
        return "invalid settings: " + "; ".join(parts)
    return " ".join(str(exc).split())


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
        Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(code) from None
