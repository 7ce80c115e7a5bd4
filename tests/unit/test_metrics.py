"""Metrics: hand-computed cases, properties against a naive reference, parity with ST and ranx."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from legalrag.eval.metrics import (
    DEFAULT_METRICS,
    EvalResult,
    accuracy_at_k,
    average_precision_at_k,
    evaluate,
    ndcg_at_k,
    parse_metric,
    precision_at_k,
    rank_documents,
    recall_at_k,
    reciprocal_rank_at_k,
    trec_average_precision_at_k,
    trec_ndcg_at_k,
)
from legalrag.plugin.errors import InputError

# q1: relevant {d1, d3} (d9 is judged 0 = not relevant); ranking d2 d1 d4 d3 d5 → hits at ranks 2 and 4
QRELS = {"q1": {"d1": 1, "d3": 1, "d9": 0}}
RUN = {"q1": [("d5", 0.5), ("d3", 0.6), ("d4", 0.7), ("d1", 0.8), ("d2", 0.9)]}
RANKED = ["d2", "d1", "d4", "d3", "d5"]
REL = frozenset({"d1", "d3"})


# ----------------------------------------------------------------------------------- hand-computed
def test_rank_documents_sorts_by_score_then_id() -> None:
    assert [d for d, _ in rank_documents(RUN["q1"])] == RANKED
    # equal scores: doc id ascending decides
    assert rank_documents({"b": 0.5, "a": 0.5, "c": 0.1}) == [("a", 0.5), ("b", 0.5), ("c", 0.1)]


def test_accuracy_hand() -> None:
    assert accuracy_at_k(RANKED, REL, 1) == 0.0  # top1 = d2: miss
    assert accuracy_at_k(RANKED, REL, 3) == 1.0  # d1 at rank 2


def test_precision_hand() -> None:
    assert precision_at_k(RANKED, REL, 1) == 0.0
    assert precision_at_k(RANKED, REL, 3) == pytest.approx(1 / 3)  # d1 in 3 slots
    assert precision_at_k(RANKED, REL, 5) == pytest.approx(2 / 5)  # d1, d3 in 5 slots
    assert precision_at_k(RANKED, REL, 10) == pytest.approx(2 / 10)  # only 5 retrieved, still /10


def test_recall_hand() -> None:
    assert recall_at_k(RANKED, REL, 1) == 0.0
    assert recall_at_k(RANKED, REL, 3) == pytest.approx(1 / 2)  # 1 of |R| = 2
    assert recall_at_k(RANKED, REL, 5) == 1.0


def test_mrr_hand() -> None:
    assert reciprocal_rank_at_k(RANKED, REL, 10) == pytest.approx(1 / 2)  # first hit at rank 2
    assert reciprocal_rank_at_k(RANKED, REL, 1) == 0.0  # cut before the first hit


def test_ndcg_hand() -> None:
    # DCG = 1/log2(2+1) + 1/log2(4+1); IDCG = 1/log2(2) + 1/log2(3) over min(10, |R|=2) ideal hits
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, REL, 10) == pytest.approx(expected)
    # k = 1: DCG = 0 (d2 misses)
    assert ndcg_at_k(RANKED, REL, 1) == 0.0


def test_trec_ndcg_uses_graded_gains() -> None:
    judgments = {"a": 2, "b": 1}
    # ranking b, a: DCG = 1/log2(2) + 2/log2(3); IDCG (a then b) = 2/log2(2) + 1/log2(3)
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert trec_ndcg_at_k(["b", "a"], judgments, 10) == pytest.approx(expected)
    # binary NDCG ignores grades: both relevant docs in the top 2 → 1.0
    assert ndcg_at_k(["b", "a"], frozenset(judgments), 10) == pytest.approx(1.0)


def test_map_hand() -> None:
    # hits at ranks 2 and 4: precision@2 = 1/2, precision@4 = 2/4; sum = 1.0; / min(100, 2) = 0.5
    assert average_precision_at_k(RANKED, REL, 100) == pytest.approx(0.5)
    # three relevant, ranking a x b, k = 2: only a counts (precision@1 = 1)
    # ST divides by min(k=2, |R|=3) = 2 → 0.5; trec divides by |R| = 3 → 1/3
    rel3 = frozenset({"a", "b", "c"})
    assert average_precision_at_k(["a", "x", "b"], rel3, 2) == pytest.approx(0.5)
    assert trec_average_precision_at_k(["a", "x", "b"], rel3, 2) == pytest.approx(1 / 3)


def test_evaluate_hand_all_default_metrics() -> None:
    result = evaluate(QRELS, RUN)
    assert isinstance(result, EvalResult)
    assert list(result.means) == list(DEFAULT_METRICS)
    expected = {
        "accuracy@1": 0.0,
        "accuracy@3": 1.0,
        "accuracy@5": 1.0,
        "accuracy@10": 1.0,
        "precision@1": 0.0,
        "precision@3": 1 / 3,
        "precision@5": 2 / 5,
        "precision@10": 2 / 10,
        "recall@1": 0.0,
        "recall@3": 0.5,
        "recall@5": 1.0,
        "recall@10": 1.0,
        "mrr@10": 0.5,
        "ndcg@10": (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)),
        "map@100": 0.5,
    }
    assert result.means == pytest.approx(expected)
    assert result.per_query["q1"] == pytest.approx(expected)


def test_evaluate_skips_queries_without_relevant_and_zeroes_missing_runs() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d7": 0}, "q3": {"d2": 1}}
    run = {"q1": ["d1", "d4"], "extra": ["d1"]}  # q3 absent from run: retrieves nothing
    result = evaluate(qrels, run, ["accuracy@1", "mrr@10"])
    assert result.skipped_queries == ("q2",)
    assert set(result.per_query) == {"q1", "q3"}
    assert result.num_queries == 2
    # (1 + 0) / 2 queries
    assert result.means == {"accuracy@1": 0.5, "mrr@10": 0.5}


def test_evaluate_accepts_three_run_shapes() -> None:
    as_pairs = evaluate(QRELS, RUN).means
    as_dict = evaluate(QRELS, {"q1": dict(RUN["q1"])}).means
    as_ranked = evaluate(QRELS, {"q1": RANKED}).means
    assert as_pairs == as_dict == as_ranked


def test_evaluate_does_not_mutate_inputs() -> None:
    qrels, run = copy.deepcopy(QRELS), copy.deepcopy(RUN)
    evaluate(qrels, run, compat="trec")
    assert qrels == QRELS
    assert run == RUN


def test_parse_metric() -> None:
    assert parse_metric("ndcg@10") == ("ndcg", 10)
    assert parse_metric("MAP@100") == ("map", 100)
    for bad in ("ndcg", "ndcg@0", "ndcg@x", "hits@3", "f1@5"):
        with pytest.raises(InputError):
            parse_metric(bad)


def test_evaluate_errors() -> None:
    with pytest.raises(InputError, match="compat"):
        evaluate(QRELS, RUN, compat="ranx")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="relevant document"):
        evaluate({"q": {"d": 0}}, {"q": ["d"]})
    with pytest.raises(InputError, match="twice"):
        evaluate(QRELS, {"q1": [("d1", 1.0), ("d1", 0.5)]})
    with pytest.raises(InputError, match="NaN"):
        evaluate(QRELS, {"q1": [("d1", float("nan"))]})
    with pytest.raises(InputError, match="single string"):
        evaluate(QRELS, {"q1": "d1"})


# ------------------------------------------------------------------------------ naive reference
def _ref_metrics(judgments: Mapping[str, int], hits: Sequence[tuple[str, float]], k: int, trec: bool):
    order = sorted(hits, key=lambda h: (-h[1], h[0]))
    top = [d for d, _ in order][:k]
    rel = {d for d, r in judgments.items() if r > 0}
    flags = [d in rel for d in top]
    n_hit = sum(flags)
    first = next((i for i, f in enumerate(flags) if f), None)
    prec_sum = sum(sum(flags[: i + 1]) / (i + 1) for i, f in enumerate(flags) if f)
    if trec:
        gains = [max(judgments.get(d, 0), 0) for d in top]
        ideal = sorted((r for r in judgments.values() if r > 0), reverse=True)[:k]
    else:
        gains = [1 if f else 0 for f in flags]
        ideal = [1] * min(k, len(rel))
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return {
        "accuracy": float(n_hit > 0),
        "precision": n_hit / k,
        "recall": n_hit / len(rel),
        "mrr": 0.0 if first is None else 1 / (first + 1),
        "ndcg": dcg / idcg,
        "map": prec_sum / (len(rel) if trec else min(k, len(rel))),
    }


DOCS = [f"d{i:02d}" for i in range(12)]
judgment_st = st.dictionaries(st.sampled_from(DOCS), st.integers(0, 3), min_size=1, max_size=6)
qrels_st = st.dictionaries(st.sampled_from([f"q{i}" for i in range(6)]), judgment_st, min_size=1, max_size=6)
tied_scores = st.integers(0, 4).map(float)  # many ties
free_scores = st.floats(-10, 10, allow_nan=False)


@st.composite
def qrels_and_run(draw, scores=free_scores, unique=False, complete=False):
    qrels = draw(qrels_st)
    run = {}
    for qid in qrels:
        if not complete and draw(st.booleans()) and draw(st.booleans()):
            continue  # leave some queries without any retrieval
        docs = draw(st.lists(st.sampled_from(DOCS), unique=True, min_size=1 if complete else 0, max_size=12))
        values = draw(st.lists(scores, min_size=len(docs), max_size=len(docs), unique=unique))
        run[qid] = list(zip(docs, values, strict=True))
    return qrels, run


KS = (1, 2, 3, 5, 10)
ALL = [f"{name}@{k}" for name in ("accuracy", "precision", "recall", "mrr", "ndcg", "map") for k in KS]


@settings(max_examples=200, deadline=None)
@given(data=qrels_and_run(scores=st.one_of(tied_scores, free_scores)), trec=st.booleans())
def test_property_matches_reference(data, trec: bool) -> None:
    qrels, run = data
    assume(any(r > 0 for j in qrels.values() for r in j.values()))
    result = evaluate(qrels, run, ALL, compat="trec" if trec else "st")
    for qid, row in result.per_query.items():
        for metric, value in row.items():
            name, k = parse_metric(metric)
            expected = _ref_metrics(qrels[qid], run.get(qid, []), k, trec)[name]
            assert value == pytest.approx(expected, abs=1e-12)
            assert 0.0 <= value <= 1.0 + 1e-12
    # monotone in k: accuracy and recall never fall as k grows
    for row in result.per_query.values():
        for name in ("accuracy", "recall"):
            values = [row[f"{name}@{k}"] for k in KS]
            assert values == sorted(values)


# ------------------------------------------------------------------- parity: sentence-transformers
def _st_evaluator_class():
    try:
        from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    except ImportError:  # sentence-transformers < 6
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers.evaluation import InformationRetrievalEvaluator  # type: ignore[no-redef]
    return InformationRetrievalEvaluator


def _st_metrics(qrels, run) -> dict[str, float]:
    evaluator_class = _st_evaluator_class()
    relevant = {q: {d for d, r in j.items() if r > 0} for q, j in qrels.items()}
    evaluator = evaluator_class(
        queries={q: f"query {q}" for q in qrels},
        corpus={d: f"doc {d}" for d in DOCS},
        relevant_docs=relevant,
        accuracy_at_k=[1, 3, 5, 10],
        precision_recall_at_k=[1, 3, 5, 10],
        mrr_at_k=[1, 10],
        ndcg_at_k=[3, 10],
        map_at_k=[2, 100],
        write_csv=False,
    )
    results = [[{"corpus_id": d, "score": s} for d, s in run.get(qid, [])] for qid in evaluator.queries_ids]
    scores = evaluator.compute_metrics(results)
    return {
        f"{group.removesuffix('@k')}@{k}": float(value) for group, by_k in scores.items() for k, value in by_k.items()
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=qrels_and_run(unique=True))
def test_parity_with_sentence_transformers_without_ties(data) -> None:
    qrels, run = data
    assume(any(r > 0 for j in qrels.values() for r in j.values()))
    theirs = _st_metrics(qrels, run)
    ours = evaluate(qrels, run, list(theirs)).means
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=qrels_and_run(scores=tied_scores))
def test_parity_with_sentence_transformers_with_ties(data) -> None:
    # sentence-transformers >= 6 sorts by (-score, corpus_id): the same tie rule as ours
    qrels, run = data
    assume(any(r > 0 for j in qrels.values() for r in j.values()))
    theirs = _st_metrics(qrels, run)
    ours = evaluate(qrels, run, list(theirs)).means
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key


def test_parity_with_sentence_transformers_hand_case() -> None:
    theirs = _st_metrics(QRELS, RUN)
    ours = evaluate(QRELS, RUN, list(theirs)).means
    assert ours == pytest.approx(theirs, abs=1e-12)


# ----------------------------------------------------------------------------------- parity: ranx
RANX_NAMES = {"accuracy": "hit_rate", "precision": "precision", "recall": "recall", "mrr": "mrr"}
RANX_NAMES |= {"ndcg": "ndcg", "map": "map"}


@pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx hashes doc ids to float64
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=qrels_and_run(unique=True, complete=True))
def test_trec_compat_equals_ranx(data) -> None:
    ranx = pytest.importorskip("ranx")
    qrels, run = data
    # ranx counts a query without relevant documents as 0 where we skip it; keep such queries out
    qrels = {q: j for q, j in qrels.items() if any(r > 0 for r in j.values())}
    assume(qrels)
    ranx_run = {q: dict(run[q]) for q in qrels}  # same query order as qrels: ranx zips by position
    metrics = [f"{name}@{k}" for name in RANX_NAMES for k in KS]
    ranx_metrics = [f"{RANX_NAMES[parse_metric(m)[0]]}@{parse_metric(m)[1]}" for m in metrics]
    theirs = ranx.evaluate(dict(qrels), ranx_run, ranx_metrics, return_mean=False)
    ours = evaluate(qrels, run, metrics, compat="trec")
    for metric, ranx_metric in zip(metrics, ranx_metrics, strict=True):
        per_query = [ours.per_query[q][metric] for q in qrels]
        assert per_query == pytest.approx(list(theirs[ranx_metric]), abs=1e-9), metric
