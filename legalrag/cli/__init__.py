"""The ``legalrag`` command line: ingest, search, chunk, eval, train, collections.

Every command takes ``--json`` and then prints one JSON document on stdout and nothing else
there. Exit codes: 0 success, 2 bad usage or bad input (nothing written), 1 runtime failure.

Each command module only parses flags, calls the library and prints: ``ingest`` calls
:func:`legalrag.ingest.ingest_paths`, ``eval`` :func:`legalrag.eval.evaluate_collection`,
``chunk`` :func:`legalrag.ingest.chunk_paths`, ``search`` :func:`legalrag.plugin.open_searcher`,
``train`` :func:`legalrag.train.train_model`.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

import typer

from legalrag.cli.chunk import chunk
from legalrag.cli.collections import collections_app
from legalrag.cli.eval import eval_command
from legalrag.cli.ingest import ingest
from legalrag.cli.search import search
from legalrag.cli.train import train

__all__ = ["app", "main"]

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    name="legalrag",
    help="Statute-aware ingestion, hybrid search and evaluation over Qdrant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(ingest)
app.command()(search)
app.command()(chunk)
app.command("eval")(eval_command)
app.command()(train)
app.add_typer(collections_app, name="collections")


def main() -> None:
    """The ``legalrag`` command: :data:`app`, then a quick exit.

    At exit Python runs its cyclic garbage collector over every object left, those of torch,
    transformers and a loaded model included: ~1.1 s after a ``legalrag ingest`` (measured with
    ``perf``: the exit's time is almost all ``gc_collect_main``) for memory the OS frees anyway.
    Frozen objects are skipped by those passes; ``atexit`` handlers, finalizers registered with them
    (temporary folders) and the flush of the standard streams still run.

    qdrant-client checks a server's version on a daemon thread; a command that fails fast (a refused
    key) would exit while that thread still sets up TLS, and OpenSSL's exit handlers then crash the
    process (SIGSEGV, seen once the exit became quick): it is joined first, within its timeout.
    """
    try:
        if "--json" in sys.argv[1:]:
            sys.exit(_run_json())
        app()
    finally:
        for thread in threading.enumerate():
            if thread.daemon and thread.name.endswith("(_check_compatibility)"):
                thread.join(timeout=_VERSION_CHECK_WAIT_S)
        gc.freeze()


def _run_json() -> int:
    """:data:`app` when ``--json`` was asked for: a usage error (an unknown flag, a missing argument, a bad
    value) is the one JSON document on stdout too, not only click's text on stderr."""
    from legalrag.output import to_json
    from legalrag.plugin.redact import redact

    try:
        result = app(standalone_mode=False)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        code, describe = getattr(exc, "exit_code", None), getattr(exc, "format_message", None)
        if not isinstance(code, int) or not callable(describe):
            if type(exc).__name__ == "Abort":  # click's Ctrl-C at a prompt
                return 130
            raise
        message = redact(" ".join(str(describe()).split()))
        sys.stdout.write(to_json({"error": message, "type": type(exc).__name__, "exit_code": code}) + "\n")
        sys.stderr.write(f"error: {message}\n")
        return code
    return result if isinstance(result, int) else 0


#: at most this long for qdrant-client's version check at exit (its own timeout is the client's)
_VERSION_CHECK_WAIT_S = 10.0
