"""Optional second stage: a sentence-transformers ``CrossEncoder`` over the top-N fused candidates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from legalrag.plugin.errors import ModelLoadError
from legalrag.plugin.models.encoder import (
    dtype_kwargs,
    precision_dtype,
    resolve_device,
    resolve_model_path,
    split_devices,
)
from legalrag.plugin.schema import TEXT_KEY
from legalrag.plugin.store.base import Hit

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["MAX_LENGTH", "Reranker", "fp32_head"]

#: the longest (query, passage) pair a reranker reads unless told otherwise (a model's own limit when lower)
MAX_LENGTH = 512


def fp32_head(model: Any) -> bool:
    """Run a half-precision cross-encoder's output projection (its last ``Linear``, ``num_labels`` wide)
    in fp32, its input cast up: a bf16 logit has 8 bits of mantissa, so candidates a few hundredths
    apart score the same (a trained e5-small reranker gave 23 distinct scores among a query's 50
    candidates, the best one tied in 12 % of queries) and the order among them is lost. The projection
    is one row of weights: no cost. Returns whether a head was found."""
    import torch

    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    labels = getattr(getattr(model, "config", None), "num_labels", None)
    if not linears or (labels is not None and linears[-1].out_features != labels):
        return False
    head = linears[-1]
    if head.weight.dtype == torch.float32:
        return True
    head.float()

    def upcast(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)

    head.register_forward_pre_hook(upcast)
    return True


class Reranker:
    """Re-score the best ``top_n`` candidates with a cross-encoder; scores become the reranker's.

    Example:
        >>> reranker = Reranker.load("BAAI/bge-reranker-v2-m3", device="cuda")  # doctest: +SKIP
        >>> searcher = Searcher(store, "laws", emb, bm25, reranker=reranker)  # doctest: +SKIP
    """

    def __init__(self, model: CrossEncoder | Any, *, top_n: int = 50, batch_size: int = 32) -> None:
        self.model = model
        self.top_n = top_n
        self.batch_size = batch_size

    @classmethod
    def load(
        cls,
        name: str,
        device: str = "auto",
        *,
        top_n: int = 50,
        batch_size: int = 32,
        max_length: int | None = None,
        precision: str = "auto",
    ) -> Reranker:
        """Load a cross-encoder. ``max_length``: tokens per (query, passage) pair; default the model's own
        limit (what it was trained with), at most :data:`MAX_LENGTH`. ``precision`` as the embedder's
        (:func:`~legalrag.plugin.models.encoder.resolve_precision`): ``auto`` loads bf16 weights on a CPU with
        native bf16 and on CUDA (fp16 where bf16 is missing), fp32 elsewhere; fp16 on a CPU stays fp32."""
        from legalrag.plugin._imports import import_sentence_transformers

        path = resolve_model_path(name)  # a wrong name fails here, before seconds of imports
        CrossEncoder = import_sentence_transformers().CrossEncoder
        resolved = resolve_device(split_devices(device)[0])
        dtype = precision_dtype(precision, resolved)
        try:
            model = CrossEncoder(
                path,
                device=resolved,
                local_files_only=path != name,
                trust_remote_code=False,  # resolve_model_path refused a local model with code of its own
                model_kwargs=dtype_kwargs(dtype) or None,
            )
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load reranker {name!r}: {exc}") from exc
        if dtype is not None:
            model.to(dtype)
            fp32_head(model.model)
        own = model.max_seq_length
        model.max_seq_length = max_length if max_length is not None else min(own or MAX_LENGTH, MAX_LENGTH)
        return cls(model, top_n=top_n, batch_size=batch_size)

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """Rerank the first ``top_n`` hits; hits the model scores the same keep the order they came in (the
        retriever's). Later hits keep their order after them, their scores shifted below the lowest
        reranked one: the list's scores never increase, so sorting by score keeps this order."""
        head = list(hits[: self.top_n])
        if not head:
            return list(hits)
        pairs = [(query, str(h.payload.get(TEXT_KEY, ""))) for h in head]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        rescored = [replace(h, score=float(s)) for h, s in zip(head, scores, strict=True)]
        rescored.sort(key=lambda h: -h.score)  # stable: ties stay in the retriever's order
        tail = list(hits[self.top_n :])
        if tail:
            # the list stays sorted by score for whatever sorts by it (metrics, a merge of lists): the later
            # hits' retriever scores, on another scale (DBSF's reach 2, a sigmoid 1), are shifted below the
            # lowest reranked one, their order and gaps kept
            shift = rescored[-1].score - 1.0 - tail[0].score
            tail = [replace(h, score=h.score + shift) for h in tail]
        return rescored + tail
