"""The trained model's card: the before/after table in published cards' layout, data, negatives, settings.

Written as ``README.md`` in the model folder (above what sentence-transformers writes there), so the
folder can be published as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legalrag.eval.cards import similarity_name
from legalrag.train.mining import CANDIDATES, ROWS_FILE

__all__ = ["CARD_KEYS", "model_card"]

#: ``InformationRetrievalEvaluator``'s keys, as published model cards list them
CARD_KEYS: tuple[str, ...] = (
    *(f"accuracy@{k}" for k in (1, 3, 5, 10)),
    *(f"precision@{k}" for k in (1, 3, 5, 10)),
    *(f"recall@{k}" for k in (1, 3, 5, 10)),
    "ndcg@10",
    "mrr@10",
    "map@100",
)


def model_card(report: Mapping[str, Any], existing: str = "") -> str:
    """The card's markdown: legalrag's section, then ``existing`` (sentence-transformers' own card)."""
    prefix = f"{similarity_name(report.get('distance'))}_"
    before, after = report["before"], report["after"]
    rows = sorted(set(before) | set(after), key=lambda r: (r.split("+")[0] != "dense", r))
    lines = [
        f"# {report['model_name']}",
        "",
        f"Fine-tuned from `{report['base']}` with [legalrag](https://pypi.org/project/legalrag/) "
        f"(`legalrag train`) on {report['sizes']['train_pairs']} question → answer pairs, with hard negatives "
        "mined from a Qdrant collection by the same hybrid search the model serves.",
        "",
        f"## Evaluation: `{report['eval_split']}` split, {report['sizes']['test_queries']} queries, "
        f"{report['sizes']['corpus']} documents",
        "",
        "Before is the base model, after the fine-tuned one, each on its own collection of the same corpus, "
        "with legalrag's harness (sentence-transformers' metric definitions). `tuned` is hybrid search "
        "re-tuned on the dev split (`legalrag eval --tune`); `+rerank` re-scores its top 50 with the trained "
        "cross-encoder.",
        "",
        "| configuration | model | " + " | ".join(prefix + k for k in CARD_KEYS) + " |",
        "|---|---|" + "---:|" * len(CARD_KEYS),
    ]
    for row in rows:
        for label, table in (("before", before), ("after", after)):
            if row in table:
                cells = " | ".join(f"{table[row].get(k, float('nan')):.4f}" for k in CARD_KEYS)
                lines.append(f"| {row} | {label} | {cells} |")
    sizes, negatives, options = report["sizes"], report["negatives"], report["hyperparameters"]
    lines += [
        "",
        "## Data",
        "",
        f"- dataset: `{report['dataset']}` ({report['split_by']})",
        f"- train: {sizes['train_queries']} queries, {sizes['train_pairs']} pairs; dev: {sizes['dev_queries']} "
        f"queries; {report['eval_split']}: {sizes['test_queries']} queries; corpus: {sizes['corpus']} documents",
        f"- leaks removed from training (a query equal or nearly equal to a held-out one): {sizes['leaks_removed']}",
        f"- hard negatives: {negatives['negatives_per_pair']} per pair from the collection `{report['collection']}` "
        f"(hybrid search, top {negatives.get('candidates', CANDIDATES)} documents), skipping positives and "
        f"candidates the base model scores within {negatives['relative_margin'] * 100:g}% of the positive "
        f"({negatives['skipped_as_likely_positive']} skipped as likely unlabelled positives; "
        f"{negatives.get('random_negatives', 0)} random documents for pairs left short); "
        f"the table: `{ROWS_FILE}`",
        "",
        "## Training",
        "",
        *(f"- {key}: {value}" for key, value in options.items()),
        "",
    ]
    return "\n".join(lines) + ("\n" + existing if existing else "")
