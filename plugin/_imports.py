"""Heavy imports, made only when needed and only as far as needed.

sentence-transformers imports ``sklearn.metrics.pairwise_distances`` at module level for one similarity
function (manhattan distance between sparse embeddings). scikit-learn brings scipy.stats and pandas with
it: about a second of every cold start (``python -X importtime``), on the path of every query and every
ingest, for a function legalrag never calls. :func:`import_sentence_transformers` imports
sentence-transformers with a stand-in for ``sklearn.metrics`` whose functions import the real module at
their first call; the stand-in is removed right after, so any later ``import sklearn.metrics`` (the
trainer's evaluators, user code) gets the real module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

__all__ = ["import_sentence_transformers"]

_lock = threading.Lock()
_DEFERRED = "sklearn.metrics"


class _DeferredModule(ModuleType):
    """A module whose attributes are functions importing the real module when called."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def deferred(*args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(self.__name__), name)(*args, **kwargs)

        deferred.__name__ = deferred.__qualname__ = name
        deferred.__module__ = self.__name__
        return deferred


def import_sentence_transformers() -> ModuleType:
    """``sentence_transformers``, imported without scikit-learn (see the module's docstring)."""
    loaded = sys.modules.get("sentence_transformers")
    if loaded is not None:
        return loaded
    with _lock:
        if _DEFERRED in sys.modules or importlib.util.find_spec("sklearn") is None:
            return importlib.import_module("sentence_transformers")
        stand_in = _DeferredModule(_DEFERRED)
        sys.modules[_DEFERRED] = stand_in
        try:
            return importlib.import_module("sentence_transformers")
        finally:
            if sys.modules.get(_DEFERRED) is stand_in:
                del sys.modules[_DEFERRED]
