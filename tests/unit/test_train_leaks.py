"""Near-duplicate held-out queries are found by an index, with the same answers as comparing every pair."""

from __future__ import annotations

import random

import pytest

from legalrag.train.data import LEAK_SIMILARITY, LeakIndex, _jaccard, _normal, _trigrams

pytestmark = pytest.mark.unit

WORDS = [
    "개인정보",
    "제공",
    "동의",
    "신용카드",
    "분실",
    "책임",
    "금융회사",
    "고객",
    "통지",
    "의무",
    "위반",
    "과태료",
    "보험",
    "대출",
    "이자",
    "계약",
    "해지",
]


def _brute(query: str, held_out: list[str]) -> bool:
    normal, mine = _normal(query), _trigrams(query)
    return any(_normal(o) == normal or _jaccard(mine, _trigrams(o)) >= LEAK_SIMILARITY for o in held_out)


def _questions(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12))) + "?" for _ in range(n)]


def _near(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(0, 3)):  # a few edits: some stay above the threshold, some fall below
        chars.insert(rng.randrange(len(chars) + 1), rng.choice("은는이가을를 "))
    return "".join(chars)


def test_the_index_finds_exactly_what_comparing_every_pair_finds() -> None:
    rng = random.Random(5)
    held_out = _questions(rng, 300)
    queries = [_near(rng, q) for q in rng.sample(held_out, 150)] + _questions(rng, 150)
    index = LeakIndex(held_out)
    found = [index.leaks(q) for q in queries]
    assert found == [_brute(q, held_out) for q in queries]
    assert 0 < sum(found) < len(queries)  # both answers occur


def test_thousands_of_queries_are_checked_without_comparing_every_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    from legalrag.train import data

    compared = 0

    def counting(a: set[str], b: set[str]) -> float:
        nonlocal compared
        compared += 1
        return _jaccard(a, b)

    monkeypatch.setattr(data, "_jaccard", counting)
    rng = random.Random(11)
    held_out, queries = _questions(rng, 3000), _questions(rng, 3000)
    index = LeakIndex(held_out)
    assert [index.leaks(q) for q in queries[:200]] == [_brute(q, held_out) for q in queries[:200]]
    compared = 0
    sum(index.leaks(q) for q in queries)
    assert compared < len(held_out) * len(queries) // 20  # all pairs: 9 million comparisons
