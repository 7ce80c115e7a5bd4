"""Fine-tuning with sentence-transformers' own trainers: nothing here re-implements what they do.

The embedder: ``SentenceTransformerTrainer`` with ``CachedMultipleNegativesRankingLoss`` by default
(in-batch negatives over a large batch in the memory of a small one: GradCache), or plain MNRL, either
optionally inside ``MatryoshkaLoss``, or ``(Cached)GISTEmbedLoss`` with the base model as the guide that
drops likely false in-batch negatives; the mined hard negatives are extra columns; duplicates within a
batch are avoided (``BatchSamplers.NO_DUPLICATES``); the model's own query/document prompts are applied
to the columns. The reranker: ``CrossEncoderTrainer`` with ``BinaryCrossEntropyLoss`` over (query,
positive) = 1 and (query, negative) = 0 (the hard negatives and one random other positive), positives weighted
by the negatives per pair. bf16 on CUDA;
checkpoints every ``save_steps`` under ``<output>/checkpoints``; ``resume`` continues from the last one;
Ctrl-C saves one before stopping.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from legalrag.plugin.errors import InputError, LegalRAGError, MissingExtraError
from legalrag.train.data import Mined

__all__ = ["FitOptions", "Interrupted", "fit_embedder", "fit_reranker", "revive_pooler"]

log = logging.getLogger(__name__)

Loss = Literal["cached_mnrl", "mnrl", "matryoshka", "gist", "cached_gist"]
LOSSES: tuple[str, ...] = get_args(Loss)
#: tokens of a (query, passage) pair at most while training a reranker
PAIR_TOKENS = 512


class Interrupted(LegalRAGError):
    """Training stopped by Ctrl-C; a checkpoint was saved and ``resume`` continues from it."""

    exit_code = 130


@dataclass(frozen=True, slots=True)
class FitOptions:
    """Hyperparameters of a run (recorded in the model card)."""

    epochs: float = 1.0
    batch_size: int = 64
    mini_batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    loss: Loss = "cached_mnrl"
    #: similarity scale of the ranking loss (1 / temperature): sentence-transformers' 20 by default;
    #: a model pre-trained at a lower temperature (E5: 0.01, so 100) may keep more of what it knows nearer its own
    loss_scale: float = 20.0
    max_seq_length: int | None = 256
    seed: int = 13
    gradient_checkpointing: bool = False
    save_steps: int = 200
    logging_steps: int = 10
    device: str = "auto"
    #: ``auto``: bf16 on CUDA (fp16 where bf16 is missing), bf16 autocast on a CPU with native bf16, else fp32
    precision: str = "auto"
    show_progress: bool = False


def _require_training() -> None:
    try:
        import accelerate  # noqa: F401
        import datasets  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("datasets and accelerate", "train", "Training") from exc


def _dataset(mined: Sequence[Mined]) -> Any:
    from datasets import Dataset

    count = min((len(m.negatives) for m in mined), default=0)
    columns: dict[str, list[str]] = {
        "anchor": [m.pair.query for m in mined],
        "positive": [m.pair.positive for m in mined],
    }
    for i in range(count):  # the same number of negatives in every row (a table has fixed columns)
        columns[f"negative_{i + 1}"] = [m.negatives[i] for m in mined]
    return Dataset.from_dict(columns)


def _loss(model: Any, options: FitOptions) -> Any:
    try:
        from sentence_transformers.sentence_transformer import losses
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import losses  # type: ignore[no-redef,attr-defined]

    scale = options.loss_scale
    if options.loss in ("gist", "cached_gist"):
        # the guide is the base model, frozen: an in-batch negative it scores above the pair's positive is
        # likely an unlabelled answer (near-duplicate interpretations) and is left out of the softmax
        guide = copy.deepcopy(model).requires_grad_(False).eval()
        if options.loss == "gist":
            return losses.GISTEmbedLoss(model, guide, temperature=1.0 / scale)
        return losses.CachedGISTEmbedLoss(
            model, guide, temperature=1.0 / scale, mini_batch_size=options.mini_batch_size
        )
    base = (
        losses.MultipleNegativesRankingLoss(model, scale=scale)
        if options.loss == "mnrl"
        else losses.CachedMultipleNegativesRankingLoss(model, scale=scale, mini_batch_size=options.mini_batch_size)
    )
    if options.loss != "matryoshka":
        return base
    named = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # renamed in 6
    dimension = named() or 768
    dims = [d for d in (dimension, 512, 256, 128, 64) if d <= dimension]
    return losses.MatryoshkaLoss(model, base, matryoshka_dims=dims)


def _version_named(options: FitOptions) -> dict[str, Any]:
    """Warm-up and checkpointing under the names this transformers release reads (v5 renamed both and
    warns on the old ones)."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        named: dict[str, Any] = {"warmup_steps": float(options.warmup_ratio)}  # a float < 1 is a ratio
        if options.gradient_checkpointing:
            named["activation_checkpointing"] = True
        return named
    return {"warmup_ratio": options.warmup_ratio, "gradient_checkpointing": options.gradient_checkpointing}


def _arguments(kind: str, output: Path, options: FitOptions, device: str, prompts: dict[str, str] | None) -> Any:
    from sentence_transformers import CrossEncoderTrainingArguments, SentenceTransformerTrainingArguments

    from legalrag.plugin.models.encoder import resolve_precision

    precision = resolve_precision(options.precision, device)
    if precision not in ("fp32", "bf16", "fp16") or (precision == "fp16" and not device.startswith("cuda")):
        raise InputError(f"training precision {options.precision!r} is not one of auto, fp32, bf16 (fp16: CUDA only)")

    try:
        from sentence_transformers.base.sampler import BatchSamplers
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.training_args import BatchSamplers  # type: ignore[no-redef]

    common: dict[str, Any] = {
        "output_dir": str(output),
        "num_train_epochs": options.epochs,
        "per_device_train_batch_size": options.batch_size if kind == "embedder" else options.mini_batch_size,
        "learning_rate": options.learning_rate,
        "seed": options.seed,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "dataloader_pin_memory": device.startswith("cuda"),
        "use_cpu": device == "cpu",  # also what lets the trainer run bf16 autocast on a CPU
        "save_strategy": "steps",
        "save_steps": options.save_steps,
        "save_total_limit": 2,
        "logging_steps": options.logging_steps,
        "report_to": "none",
        "disable_tqdm": not options.show_progress,
        "batch_sampler": BatchSamplers.NO_DUPLICATES,
        "dataloader_drop_last": False,
    }
    common.update(_version_named(options))
    if kind == "embedder":
        if prompts:
            common["prompts"] = prompts
        return SentenceTransformerTrainingArguments(**common)
    return CrossEncoderTrainingArguments(**common)


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Keep the trainers' chatter off stdout (``--json`` prints one document there) and their INFO logs
    off the console when no progress is wanted: the Trainer prints its log dicts without a progress bar."""
    if not enabled:
        yield
        return
    loggers = [logging.getLogger(n) for n in ("transformers", "sentence_transformers", "accelerate")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _run(trainer: Any, checkpoints: Path, resume: bool) -> list[dict[str, Any]]:
    """Train; on Ctrl-C save a checkpoint and raise :class:`Interrupted`. Returns the logged history."""
    last = _last_checkpoint(checkpoints) if resume else None
    try:
        trainer.train(resume_from_checkpoint=str(last) if last else None)
    except KeyboardInterrupt:
        saved = checkpoints / f"checkpoint-{trainer.state.global_step}"
        trainer.save_model(str(saved))
        trainer.state.save_to_json(str(saved / "trainer_state.json"))
        with contextlib.suppress(Exception):
            trainer._save_optimizer_and_scheduler(str(saved))
        raise Interrupted(
            f"training interrupted at step {trainer.state.global_step}: checkpoint saved in {saved}; "
            "run the same command with resume=True (--resume) to continue"
        ) from None
    return list(trainer.state.log_history)


def _last_checkpoint(folder: Path) -> Path | None:
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    return found[-1] if found else None


def fit_embedder(
    base: str, mined: Sequence[Mined], output: Path, options: FitOptions, *, resume: bool = False
) -> tuple[Any, list[dict[str, Any]]]:
    """Fine-tune the sentence-transformers model at ``base`` on ``mined`` and save it to ``output``."""
    _require_training()
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer

    from legalrag.plugin.models.encoder import resolve_device, resolve_model_path

    device = resolve_device(options.device if "," not in options.device else options.device.split(",")[0])
    model = SentenceTransformer(resolve_model_path(base), device=device)
    native_length = model.max_seq_length
    if options.max_seq_length:  # a training cost cap only: the saved model keeps its own limit (chunking reads it)
        model.max_seq_length = min(native_length or options.max_seq_length, options.max_seq_length)
    prompts = _column_prompts(model, len(mined[0].negatives) if mined else 0)
    checkpoints = output / "checkpoints"
    arguments = _arguments("embedder", checkpoints, options, device, prompts)
    with _quiet(not options.show_progress):
        trainer = SentenceTransformerTrainer(
            model=model, args=arguments, train_dataset=_dataset(mined), loss=_loss(model, options)
        )
        history = _run(trainer, checkpoints, resume)
    model.max_seq_length = native_length
    model.save(str(output))
    history.append({"global_step": trainer.state.global_step})
    return model, history


def _column_prompts(model: Any, negatives: int) -> dict[str, str] | None:
    """The model's own query and document prompts for the anchor and the document columns (E5's
    ``query: `` / ``passage: ``); ``None`` for a model without prompts."""
    stored = dict(getattr(model, "prompts", None) or {})
    query = stored.get("query", "")
    document = stored.get("document") or stored.get("passage") or ""
    if not query and not document:
        return None
    columns = {"anchor": query, "positive": document}
    columns.update({f"negative_{i + 1}": document for i in range(negatives)})
    return columns


def revive_pooler(model: Any) -> list[str]:
    """Re-initialise a sequence-classification model's pooler layers whose weights are all zero, as the
    architecture initialises a missing one (normal, ``initializer_range``; zero bias). A mean-pooled
    embedding model never trains its ``[CLS]`` pooler, and some checkpoints store it as a zero placeholder:
    the new one-label head then reads a constant ``tanh(0) = 0``, its gradient into the encoder is scaled
    by the head's ~0.02 weights, and a reranker started from it stays at chance. Returns the names fixed."""
    import torch

    std = float(getattr(getattr(model, "config", None), "initializer_range", 0.02) or 0.02)
    fixed = []
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if not name.endswith("pooler.dense") or not isinstance(weight, torch.Tensor) or torch.count_nonzero(weight):
            continue
        with torch.no_grad():
            weight.normal_(0.0, std)
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
        fixed.append(name)
    if fixed:
        log.warning("%s: all-zero weights (never trained); re-initialised for the reranker head", ", ".join(fixed))
    return fixed


def _easy_negatives(mined: Sequence[Mined], seed: int) -> list[tuple[str, ...]]:
    """One random other pair's positive per pair (seeded): a cross-encoder's new head learns nothing from
    hard negatives alone (e5-small on Korean Q&A: BCE flat at chance for 220 steps with 3 hard
    ones; with random ones it fell from 0.69 to 0.43 in 80), and the top 50 it reranks holds easy
    candidates too. ``()`` where there is no other document."""
    import random

    rng = random.Random(seed)
    texts = list(dict.fromkeys(m.pair.positive for m in mined))
    picked: list[tuple[str, ...]] = []
    for item in mined:
        taken = {item.pair.positive, *item.negatives}
        if len(texts) <= len(taken):
            others = [t for t in texts if t not in taken]
            picked.append((rng.choice(others),) if others else ())
            continue
        while (choice := rng.choice(texts)) in taken:
            pass
        picked.append((choice,))
    return picked


def fit_reranker(
    base: str, mined: Sequence[Mined], output: Path, options: FitOptions, *, resume: bool = False
) -> list[dict[str, Any]]:
    """Train a cross-encoder from ``base`` on the pairs, their hard negatives and one random other
    positive each (:func:`_easy_negatives`): a cross-encoder (a published reranker) is fine-tuned; any other
    transformer gets a new one-label head (and a working pooler, :func:`revive_pooler`)."""
    _require_training()
    import torch
    from datasets import Dataset
    from sentence_transformers import CrossEncoder, CrossEncoderTrainer
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from legalrag.plugin.models.encoder import resolve_device, resolve_model_path

    device = resolve_device(options.device if "," not in options.device else options.device.split(",")[0])
    rows: dict[str, list[Any]] = {"query": [], "document": [], "label": []}
    counts = []
    for item, easy in zip(mined, _easy_negatives(mined, options.seed), strict=True):
        negatives = (*item.negatives, *easy)
        counts.append(len(negatives))
        for text, label in ((item.pair.positive, 1.0), *((n, 0.0) for n in negatives)):
            rows["query"].append(item.pair.query)
            rows["document"].append(text)
            rows["label"].append(label)
    model = CrossEncoder(resolve_model_path(base), num_labels=1, device=device)
    revive_pooler(model.model)
    own = model.max_seq_length or PAIR_TOKENS
    # a pair holds a query and a passage: twice the per-text cap (a Korean question alone runs to ~100
    # tokens; at the per-text cap the passage was cut to a few dozen), within the model's own limit
    model.max_seq_length = min(own, PAIR_TOKENS, 2 * options.max_seq_length) if options.max_seq_length else own
    checkpoints = output / "checkpoints"
    arguments = _arguments("reranker", checkpoints, options, device, None)
    # k negatives per positive: the positives weighted k times, as sentence-transformers' reranker recipe does
    weight = max(1, min(counts, default=1))
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(float(weight)))
    with _quiet(not options.show_progress):
        trainer = CrossEncoderTrainer(model=model, args=arguments, train_dataset=Dataset.from_dict(rows), loss=loss)
        history = _run(trainer, checkpoints, resume)
    model.save(str(output))
    return history
