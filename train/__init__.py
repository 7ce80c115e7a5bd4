"""Fine-tuning on your own Q&A: hard negatives mined from Qdrant, sentence-transformers' trainers, before/after.

The entry point is :func:`train_model` (``legalrag train``); names load lazily, so ``import
legalrag.train`` does not load torch or the trainers.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["TrainReport", "prepare_data", "train_model"]

_WHERE = {"TrainReport": "service", "train_model": "service", "prepare_data": "data"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'legalrag.train' has no attribute {name!r}")
    value = getattr(import_module(f"legalrag.train.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from legalrag.train.data import prepare_data
    from legalrag.train.service import TrainReport, train_model
