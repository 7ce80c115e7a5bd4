"""The mined training table is saved beside the model and reused only for the same pairs and settings."""

from __future__ import annotations

from pathlib import Path

from legalrag.train.data import Pair
from legalrag.train.mining import Mined, load_mined, save_mined

PAIRS = [Pair("q1", "질문 하나", "d1", "답 하나"), Pair("q2", "질문 둘", "d2", "답 둘")]
STATS = {"negatives_per_pair": 2, "relative_margin": 0.05, "skipped_as_likely_positive": 1}


def test_the_saved_table_round_trips(tmp_path: Path) -> None:
    mined = [Mined(PAIRS[0], ("다른 답", "또 다른 답")), Mined(PAIRS[1], ("다른 답",))]
    save_mined(tmp_path, mined, STATS)
    loaded = load_mined(tmp_path, PAIRS, count=2, relative_margin=0.05)
    assert loaded is not None and loaded[0] == mined and loaded[1] == STATS


def test_other_pairs_or_settings_mine_again(tmp_path: Path) -> None:
    save_mined(tmp_path, [Mined(p, ("x",)) for p in PAIRS], STATS)
    assert load_mined(tmp_path, PAIRS, count=3, relative_margin=0.05) is None
    assert load_mined(tmp_path, PAIRS, count=2, relative_margin=0.1) is None
    assert load_mined(tmp_path, PAIRS[:1], count=2, relative_margin=0.05) is None
    assert load_mined(tmp_path, [PAIRS[1], PAIRS[0]], count=2, relative_margin=0.05) is None
    assert load_mined(tmp_path / "missing", PAIRS, count=2, relative_margin=0.05) is None
    (tmp_path / "hard_negatives.jsonl").write_text("{broken", encoding="utf-8")
    assert load_mined(tmp_path, PAIRS, count=2, relative_margin=0.05) is None
