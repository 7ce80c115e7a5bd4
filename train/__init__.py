"""Fine-tuning on your own Q&A: hard negatives mined from Qdrant, sentence-transformers' trainers, before/after.

The entry point is :func:`train_model` (``legalrag train``); names load lazily, so ``import
legalrag.train`` does not load torch or the trainers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = ["TrainOptions", "TrainReport", "prepare_data", "train_model"]

_WHERE = {"TrainOptions": "options", "TrainReport": "service", "train_model": "service", "prepare_data": "data"}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)


if TYPE_CHECKING:
    from legalrag.train.data import prepare_data
    from legalrag.train.options import TrainOptions
    from legalrag.train.service import TrainReport, train_model
