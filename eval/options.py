"""``EvalOptions``: what one evaluation runs, as one validated object (``legalrag eval`` builds it from flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from legalrag.eval.autorag_metrics import DEFAULT_TOP_K
from legalrag.eval.metrics import parse_metric

__all__ = ["EvalOptions"]

Mode = Literal["dense", "sparse", "hybrid"]


class EvalOptions(BaseModel):
    """What :func:`~legalrag.evaluate_collection` runs and how it scores; the store and model come from
    :class:`~legalrag.Settings`.

    Example:
        >>> options = EvalOptions(collection="demo-eval", modes=("dense", "hybrid"), tune=True)
        >>> options.metrics_compat, options.objective
        ('st', 'mrr@10')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    collection: str | None = Field(
        default=None, description="The collection to search (default: `Settings.collection`); ingested when empty."
    )
    modes: tuple[Mode, ...] = Field(
        default=(),
        description="Search modes to compare (default: the collection's own default search; all three with tune).",
    )
    exact: bool = Field(default=False, description="Brute-force search, comparable to a brute-force evaluator.")
    compare_exact: bool = Field(default=False, description="Each mode twice: through the index and exactly.")
    metrics_compat: Literal["st", "trec", "autorag"] = Field(
        default="st",
        description="`st` (sentence-transformers' definitions), `trec` (trec_eval / ranx) or `autorag` "
        "(AutoRAG's F1/recall/precision/mAP/mRR/NDCG at each of `top_k`).",
    )
    top_k: tuple[int, ...] = Field(
        default=DEFAULT_TOP_K, min_length=1, description="AutoRAG's cutoffs (`autorag` only)."
    )
    dataset_format: Literal["auto", "beir", "pairs", "zalo", "autorag", "mteb"] = Field(
        default="auto", description="The dataset layout; `auto` detects it."
    )
    split: str | None = Field(
        default=None, description="The qrels split (default: `test` for BEIR/MTEB, `train` for Zalo)."
    )
    corpus_file: Path | None = Field(
        default=None, description="An AutoRAG corpus parquet, when a folder holds several."
    )
    queries_file: Path | None = Field(default=None, description="An AutoRAG QA parquet, likewise.")
    tune: bool = Field(
        default=False, description="Pick fusion settings on `tune_split` and store them with the collection."
    )
    tune_split: str | None = Field(default=None, description="The split to tune on (default: `dev` when there is one).")
    objective: str = Field(default="mrr@10", description="The metric tuning maximises.")
    rerank: str | None = Field(
        default=None, description="A cross-encoder (hub name or folder): adds a `<row>+rerank` row."
    )
    rerank_top_n: int = Field(default=50, ge=1, description="Candidates the reranker re-scores per query.")
    rerank_rows: tuple[str, ...] | None = Field(
        default=None, description="The rows to rerank, e.g. `('tuned',)` (default: every row)."
    )

    @field_validator("top_k")
    @classmethod
    def _cutoffs(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if min(value) < 1:
            raise ValueError(f"cutoffs must be at least 1, got {list(value)}")
        return tuple(dict.fromkeys(value))

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: str) -> str:
        parse_metric(value)
        return value
