"""Training data from an evaluation dataset: splits by query, leaks removed, question → answer pairs.

Any dataset ``legalrag eval`` reads works. When it has a ``train`` split (BEIR ``qrels/train.tsv``) that
is used, with ``dev`` / ``test`` for evaluation; otherwise its queries are shuffled with a fixed seed
and split 80/10/10 into train, dev and test. A training query equal or nearly equal to an evaluation
query (character-trigram Jaccard ≥ :data:`LEAK_SIMILARITY` after normalisation) is a leak: it is
removed from training and counted.
"""

from __future__ import annotations

import math
import os
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from legalrag.eval.datasets import EvalDataset, load_dataset
from legalrag.plugin.errors import DatasetError, InputError

__all__ = ["LEAK_SIMILARITY", "MIN_PAIRS", "Mined", "Pair", "TrainData", "prepare_data"]

#: trigram Jaccard at or above which two queries count as the same question
LEAK_SIMILARITY = 0.9
#: fewer training pairs than this cannot train anything
MIN_PAIRS = 8
_SPACE = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Pair:
    """One training example: a query and a relevant document's text (and, once mined, hard negatives)."""

    query_id: str
    query: str
    doc_id: str
    positive: str


@dataclass(frozen=True, slots=True)
class Mined:
    """A training pair with its hard negatives' texts (:func:`legalrag.train.mining.mine_negatives`)."""

    pair: Pair
    negatives: tuple[str, ...]


@dataclass(slots=True)
class TrainData:
    """The splits a training run uses and what was removed from them."""

    train: EvalDataset
    dev: EvalDataset | None
    test: EvalDataset
    pairs: list[Pair]
    leaks: int = 0
    split_by: str = "dataset"
    notes: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        return {
            "train_queries": len(self.train.queries),
            "train_pairs": len(self.pairs),
            "dev_queries": len(self.dev.queries) if self.dev is not None else 0,
            "test_queries": len(self.test.queries),
            "corpus": len(self.test.corpus),
            "leaks_removed": self.leaks,
        }


def prepare_data(
    path: str | os.PathLike[str],
    *,
    dataset_format: str = "auto",
    split: str | None = None,
    eval_split: str | None = None,
    seed: int = 13,
    max_pairs: int | None = None,
) -> TrainData:
    """Load ``path`` and build the training pairs and the held-out splits.

    Args:
        path: a dataset ``legalrag eval`` reads.
        split: the training split (default ``train`` when the dataset has one, else a seeded split).
        eval_split: the held-out split reported before and after (default ``test``, else ``dev``).
        seed: the shuffle of a seeded split.
        max_pairs: train on at most this many pairs (the first, in a seeded order).

    Raises:
        InputError: an empty split, or fewer than :data:`MIN_PAIRS` pairs left after removing leaks.
    """
    train, dev, test, split_by = _splits(Path(path), dataset_format, split, eval_split, seed)
    held_out = LeakIndex([q for d in (dev, test) if d is not None for q in d.queries.values()])
    leaks = {qid for qid, text in train.queries.items() if held_out.leaks(text)}
    pairs = [
        Pair(qid, train.queries[qid], doc_id, _text(train, doc_id))
        for qid in sorted(train.queries)
        if qid not in leaks
        for doc_id, relevance in sorted(train.qrels.get(qid, {}).items())
        if relevance > 0
    ]
    random.Random(seed).shuffle(pairs)
    if max_pairs is not None:
        pairs = pairs[:max_pairs]
    if len(pairs) < MIN_PAIRS:
        raise InputError(
            f"only {len(pairs)} training pair(s) in {path} after removing {len(leaks)} leaked queries: "
            f"training needs at least {MIN_PAIRS}"
        )
    return TrainData(train=train, dev=dev, test=test, pairs=pairs, leaks=len(leaks), split_by=split_by)


def _splits(
    path: Path, fmt: str, split: str | None, eval_split: str | None, seed: int
) -> tuple[EvalDataset, EvalDataset | None, EvalDataset, str]:
    named = _load_split(path, fmt, split or "train", required=split is not None)
    if named is not None:
        test = _load_split(path, fmt, eval_split or "test", required=eval_split is not None)
        dev = _load_split(path, fmt, "dev", required=False)
        if test is None:
            test, dev = dev, None
        if test is None:
            raise InputError(f"{path} has a train split but no dev or test split to evaluate on: pass eval_split=")
        return named, (dev if dev is not None and eval_split != "dev" else None), test, "dataset"
    return (*_seeded(load_dataset(path, format=fmt), seed), "seeded 80/10/10 by query")


def _load_split(path: Path, fmt: str, split: str, *, required: bool) -> EvalDataset | None:
    try:
        return load_dataset(path, format=fmt, split=split)
    except (DatasetError, InputError) as exc:
        if required:
            raise InputError(f"split {split!r} of {path} cannot be used: {exc}") from None
        return None


def _seeded(data: EvalDataset, seed: int) -> tuple[EvalDataset, EvalDataset, EvalDataset]:
    ids = sorted(data.queries)
    random.Random(seed).shuffle(ids)
    cut_test, cut_dev = max(1, len(ids) // 10), max(1, len(ids) // 10)
    parts = {"test": ids[:cut_test], "dev": ids[cut_test : cut_test + cut_dev], "train": ids[cut_test + cut_dev :]}
    for name, members in parts.items():
        if not members:
            raise InputError(
                f"{data.name}: too few queries ({len(ids)}) to split into train, dev and test ({name} is empty)"
            )
    made = {name: _subset(data, members, name) for name, members in parts.items()}
    return made["train"], made["dev"], made["test"]


def _subset(data: EvalDataset, ids: list[str], split: str) -> EvalDataset:
    keep = set(ids)
    truth = {q: g for q, g in (data.ground_truth or {}).items() if q in keep} if data.ground_truth else None
    return EvalDataset(
        f"{data.name}:{split}",
        data.corpus,
        {q: t for q, t in data.queries.items() if q in keep},
        {q: j for q, j in data.qrels.items() if q in keep},
        ground_truth=truth,
        sources=data.sources,
    )


def _text(data: EvalDataset, doc_id: str) -> str:
    doc = data.corpus[doc_id]
    return f"{doc.title}\n{doc.text}" if doc.title else doc.text


def _normal(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def _trigrams(text: str) -> set[str]:
    squeezed = _normal(text).replace(" ", "")
    return {squeezed[i : i + 3] for i in range(max(1, len(squeezed) - 2))}


class LeakIndex:
    """The held-out queries, indexed so that finding a training query's near-duplicate does not compare
    it with every one of them (a few thousand queries on each side made that minutes).

    Prefix filtering (the all-pairs similarity join): with the trigrams of every set in one global order,
    rarest first, two sets whose Jaccard similarity reaches ``t`` share a trigram among the first
    ``|x| - ceil(t * |x|) + 1`` of each; only those candidates, of a compatible size, are compared.

    Example:
        >>> index = LeakIndex(["개인정보를 제3자에게 제공할 수 있는 경우는?"])
        >>> index.leaks("개인정보를 제3자에게 제공할 수 있는 경우는"), index.leaks("전혀 다른 질문")
        (True, False)
    """

    def __init__(self, queries: Sequence[str], threshold: float = LEAK_SIMILARITY) -> None:
        self.threshold = threshold
        self._normals = {_normal(q) for q in queries}
        self._sets = [_trigrams(q) for q in queries]
        self._rarity: dict[str, int] = {}
        for grams in self._sets:
            for gram in grams:
                self._rarity[gram] = self._rarity.get(gram, 0) + 1
        self._postings: dict[str, list[int]] = {}
        for i, grams in enumerate(self._sets):
            for gram in self._prefix(grams):
                self._postings.setdefault(gram, []).append(i)

    def _prefix(self, grams: set[str]) -> list[str]:
        ordered = sorted(grams, key=lambda g: (self._rarity.get(g, 0), g))
        return ordered[: len(grams) - math.ceil(self.threshold * len(grams)) + 1]

    def leaks(self, query: str) -> bool:
        """Whether ``query`` is (nearly) one of the held-out queries."""
        if _normal(query) in self._normals:
            return True
        mine = _trigrams(query)
        low, high = self.threshold * len(mine), len(mine) / self.threshold
        seen: set[int] = set()
        for gram in self._prefix(mine):
            for i in self._postings.get(gram, ()):
                if i in seen:
                    continue
                seen.add(i)
                theirs = self._sets[i]
                if low <= len(theirs) <= high and _jaccard(mine, theirs) >= self.threshold:
                    return True
        return False


def _jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0
