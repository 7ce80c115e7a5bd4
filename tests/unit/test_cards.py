"""``table.md`` golden tests: each protocol's layout, as a model card shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from legalrag.eval.cards import card_table, similarity_name

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
ST_ROW = {
    **{f"accuracy@{k}": v for k, v in zip((1, 3, 5, 10), (0.5, 0.75, 0.8, 0.9), strict=True)},
    **{f"precision@{k}": v for k, v in zip((1, 3, 5, 10), (0.5, 0.25, 0.16, 0.09), strict=True)},
    **{f"recall@{k}": v for k, v in zip((1, 3, 5, 10), (0.5, 0.75, 0.8, 0.9), strict=True)},
    "mrr@10": 0.6523,
    "ndcg@10": 0.7012,
    "map@100": 0.6611,
    "latency_ms_p50": 3.2,
}
AUTORAG_ROW = {
    f"{name}@{k}": round(0.1 * i + 0.01 * k, 4)
    for k in (1, 3)
    for i, name in enumerate(
        ("retrieval_f1", "retrieval_recall", "retrieval_precision", "retrieval_map", "retrieval_mrr", "retrieval_ndcg")
    )
}


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def test_st_card_keys_carry_the_similarity_name() -> None:
    text = card_table({"dense": ST_ROW, "hybrid+rerank": ST_ROW}, protocol="st", dataset="vn-legal", similarity="dot")
    _golden("st_dot.md", text)
    assert "dot_accuracy@1" in text and "dot_map@100" in text and "latency" not in text


def test_zalo_row_per_model() -> None:
    _golden("zalo.md", card_table({"dense": ST_ROW, "tuned": ST_ROW}, protocol="zalo", dataset="zalo_tiny"))


def test_autorag_table_per_top_k() -> None:
    text = card_table({"dense": AUTORAG_ROW}, protocol="autorag", dataset="ko-bench", top_k=(1, 3))
    _golden("autorag.md", text)
    assert text.count("### Top-k") == 2


def test_unknown_protocol_and_similarity_names() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        card_table({}, protocol="beir", dataset="x")
    assert [similarity_name(d) for d in ("Cosine", "Dot", "Euclid", None)] == ["cosine", "dot", "euclidean", "cosine"]
