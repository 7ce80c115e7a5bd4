"""``table.md``: an evaluation's metrics in the layout of the protocol evaluated, ready for a model card.

Three layouts, each one row per configuration (a mode, tuned, reranked, or a model):

* ``st`` — sentence-transformers' ``InformationRetrievalEvaluator`` keys with the model's similarity
  name, as the cards of vn-legal-embedding and BGE-m3-ko show them: ``cosine_accuracy@1 …
  cosine_map@100`` (``dot_…`` for a dot-product model);
* ``zalo`` — Zalo Legal 2021 as Vietnamese_Embedding_v2's card reports it: Acc@1/3/5/10 and MRR@10
  over the whole train set;
* ``autorag`` — AutoRAG's Korean embedding benchmark: one table per top-k with F1, Recall, Precision,
  mAP, mRR and NDCG.

``trec`` runs get a plain table under trec_eval's metric names. Everything here is a pure function
of the summaries (no I/O).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["PROTOCOLS", "card_table", "similarity_name"]

PROTOCOLS: tuple[str, ...] = ("st", "trec", "zalo", "autorag")

#: ``InformationRetrievalEvaluator``'s metrics, in the order its card tables list them
_ST_KEYS: tuple[str, ...] = (
    *(f"accuracy@{k}" for k in (1, 3, 5, 10)),
    *(f"precision@{k}" for k in (1, 3, 5, 10)),
    *(f"recall@{k}" for k in (1, 3, 5, 10)),
    "ndcg@10",
    "mrr@10",
    "map@100",
)
_ZALO: tuple[tuple[str, str], ...] = (
    ("Acc@1", "accuracy@1"),
    ("Acc@3", "accuracy@3"),
    ("Acc@5", "accuracy@5"),
    ("Acc@10", "accuracy@10"),
    ("MRR@10", "mrr@10"),
)
_AUTORAG: tuple[tuple[str, str], ...] = (
    ("F1", "retrieval_f1"),
    ("Recall", "retrieval_recall"),
    ("Precision", "retrieval_precision"),
    ("mAP", "retrieval_map"),
    ("mRR", "retrieval_mrr"),
    ("NDCG", "retrieval_ndcg"),
)
_DISTANCE_NAMES = {"Cosine": "cosine", "Dot": "dot", "Euclid": "euclidean", "Manhattan": "manhattan"}


def similarity_name(distance: str | None) -> str:
    """sentence-transformers' similarity name for a Qdrant distance (``Cosine`` → ``cosine``).

    >>> similarity_name("Dot")
    'dot'
    """
    return _DISTANCE_NAMES.get(distance or "Cosine", "cosine")


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _label(name: str) -> str:
    return name.replace("|", "\\|")


def card_table(
    summaries: Mapping[str, Mapping[str, float]],
    *,
    protocol: str,
    dataset: str,
    similarity: str = "cosine",
    top_k: Sequence[int] = (1, 3, 5, 10),
) -> str:
    """The markdown of ``table.md`` for ``summaries`` (row name → metric → value).

    Args:
        summaries: what :attr:`legalrag.eval.EvalReport.summaries` holds.
        protocol: one of :data:`PROTOCOLS`.
        dataset: the dataset's name, for the heading.
        similarity: the model's similarity name (``cosine``, ``dot``): the prefix of ``st`` keys.
        top_k: the AutoRAG cutoffs evaluated.

    Raises:
        ValueError: an unknown protocol.

    Example:
        >>> print(card_table({"dense": {"accuracy@1": 0.5, "mrr@10": 0.6}}, protocol="zalo", dataset="zalo"))
        ... # doctest: +NORMALIZE_WHITESPACE
        ## zalo: Zalo Legal 2021 protocol
        <BLANKLINE>
        | Model | Acc@1 | Acc@3 | Acc@5 | Acc@10 | MRR@10 |
        |---|---:|---:|---:|---:|---:|
        | dense | 0.5000 | – | – | – | 0.6000 |
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    if protocol == "zalo":
        rows = [[_label(n), *(_cell(row.get(key)) for _, key in _ZALO)] for n, row in summaries.items()]
        lines = [f"## {dataset}: Zalo Legal 2021 protocol", "", *_table(["Model", *(h for h, _ in _ZALO)], rows)]
    elif protocol == "autorag":
        lines = [f"## {dataset}: AutoRAG retrieval metrics"]
        for k in top_k:
            rows = [[_label(n), *(_cell(row.get(f"{key}@{k}")) for _, key in _AUTORAG)] for n, row in summaries.items()]
            lines += ["", f"### Top-k {k}", "", *_table(["Model name", *(h for h, _ in _AUTORAG)], rows)]
    else:
        prefix = f"{similarity}_" if protocol == "st" else ""
        keys = [*_ST_KEYS, *(k for row in summaries.values() for k in row if k not in _ST_KEYS and "@" in k)]
        keys = list(dict.fromkeys(k for k in keys if any(k in row for row in summaries.values())))
        rows = [[_label(n), *(_cell(row.get(key)) for key in keys)] for n, row in summaries.items()]
        title = "sentence-transformers InformationRetrievalEvaluator keys" if protocol == "st" else "trec_eval"
        lines = [f"## {dataset}: {title}", "", *_table(["configuration", *(prefix + k for k in keys)], rows)]
    return "\n".join(lines) + "\n"
