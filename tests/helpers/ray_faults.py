"""A dense model for the Ray engine's fault tests: it kills its own worker process once, mid-job."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from legalrag.plugin.settings import Settings


class DiesOnce:
    """``settings.model``, loaded at first use, whose ``after``-th batch SIGKILLs the process encoding it.

    Once only: the kill is recorded in ``marker`` (a file every process sees) before it happens, so the
    worker Ray starts in its place encodes normally. Pickles without its weights (each process loads them).
    """

    def __init__(self, settings: Settings, marker: Path, after: int = 2) -> None:
        self.settings = settings
        self.marker = marker
        self.after = after
        self.calls = 0
        self.loaded: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "loaded": None, "calls": 0}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _model(self) -> Any:
        if self.loaded is None:
            from legalrag.plugin.components import load_dense

            self.loaded = load_dense(self.settings)
        return self.loaded

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in {"settings", "marker", "after", "calls", "loaded"}:
            raise AttributeError(name)
        return getattr(self._model(), name)

    def encode_documents(self, texts: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls >= self.after and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return self._model().encode_documents(texts, **kwargs)
