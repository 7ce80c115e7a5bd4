"""OOM back-off on the CPU, with a model that fails as CUDA does above a budget: the budget halves until
the batch fits, and below the floor the documented error is raised."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pytest

from legalrag.plugin.errors import LegalRAGError
from legalrag.plugin.models.encoder import MIN_BATCH_TOKENS, DenseEncoder


class _Model:
    """Stands for a SentenceTransformer on a GPU with room for ``room`` padded tokens per batch."""

    device = "cpu"

    def __init__(self, room: int) -> None:
        self.room = room
        self.tokenizer = lambda texts, **_: {"input_ids": [[0] * len(t.split()) for t in texts]}

    def encode_document(self, texts: list[str], batch_size: int, show_progress_bar: bool) -> Any:
        if len(texts) * max(len(t.split()) for t in texts) > self.room:
            raise RuntimeError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return np.ones((len(texts), 4), dtype=np.float32)

    def get_max_seq_length(self) -> int:
        return 512


def _encoder(room: int, budget: int) -> DenseEncoder:
    encoder = DenseEncoder(_Model(room), name="fake", batch_tokens=budget)  # type: ignore[arg-type]
    encoder.__dict__["dimension"] = 4
    return encoder


def test_a_budget_far_too_large_shrinks_and_finishes() -> None:
    encoder = _encoder(room=4096, budget=1 << 20)
    texts = [" ".join(["말"] * 200)] * 100
    out = encoder.encode_documents(texts)
    assert out.shape == (100, 4) and MIN_BATCH_TOKENS <= encoder.batch_tokens <= 4096


def test_below_the_floor_the_documented_error() -> None:
    encoder = _encoder(room=10, budget=4096)
    with pytest.raises(LegalRAGError, match="out of GPU memory even at"):
        encoder.encode_documents([" ".join(["말"] * 200)] * 4)


def test_one_sequence_longer_than_the_lowered_budget_fails_once_instead_of_recursing() -> None:
    encoder = _encoder(room=300, budget=4096)
    texts = [" ".join(["말"] * 400)] + [" ".join(["말"] * 100)] * 6
    with pytest.raises(LegalRAGError, match="1 sequence"):
        encoder.encode_documents(texts)


def test_batches_formed_under_an_older_budget_are_split_without_lowering_it_again() -> None:
    encoder = _encoder(room=1000, budget=1 << 16)
    out = encoder.encode_documents([" ".join(["말"] * 100)] * 64)
    assert out.shape == (64, 4)
    # halved from each failing batch's size (6400 -> 3200 -> 1600 -> 800), not again for every sibling batch
    assert encoder.batch_tokens == 800


class _Activation:
    """Stands for the tensors a forward pass allocates: referenced only by that pass's frames."""


class _FrameHoldingModel(_Model):
    """Records, at every call, how many earlier calls' activations are still alive."""

    def __init__(self, room: int) -> None:
        super().__init__(room)
        self.refs: list[weakref.ref[_Activation]] = []
        self.alive_at_call: list[int] = []

    def encode_document(self, texts: list[str], batch_size: int, show_progress_bar: bool) -> Any:
        self.alive_at_call.append(sum(ref() is not None for ref in self.refs))
        activation = _Activation()
        self.refs.append(weakref.ref(activation))
        return super().encode_document(texts, batch_size, show_progress_bar)


def test_a_retry_runs_after_the_failed_pass_is_released() -> None:
    # regression: the retry ran inside the except block, whose traceback kept the failed pass's frames (on a
    # GPU, its activations) alive, so on an H200 every smaller batch failed too, down to one sequence
    model = _FrameHoldingModel(room=1000)
    encoder = DenseEncoder(model, name="fake", batch_tokens=1 << 16)  # type: ignore[arg-type]
    encoder.__dict__["dimension"] = 4
    out = encoder.encode_documents([" ".join(["말"] * 100)] * 64)
    assert out.shape == (64, 4) and len(model.alive_at_call) > 1
    assert model.alive_at_call == [0] * len(model.alive_at_call)
