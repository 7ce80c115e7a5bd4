"""Wiring for ingestion: chunker and ingestor built from settings and a loaded encoder."""

from __future__ import annotations

import copy
from typing import Any

from legalrag.ingest.chunking import Chunker, HFTokenCounter, TokenCounter
from legalrag.ingest.pipeline import Ingestor, fingerprint_of
from legalrag.plugin.collection import ensure_collection
from legalrag.plugin.components import TokenizerInfo, sparse_from_metadata
from legalrag.plugin.dense_adapters import DenseModel
from legalrag.plugin.settings import Settings
from legalrag.plugin.store.base import Store

__all__ = ["make_chunker", "make_ingestor", "tokenizer_info"]


def tokenizer_info(encoder: DenseModel) -> TokenizerInfo:
    """Token budget of a loaded model: ``max_seq_length`` minus special tokens and the document prompt."""
    tok = encoder.tokenizer
    if isinstance(tok, TokenCounter):  # an adapter over any Embeddings counts with legalrag's own counter
        return TokenizerInfo(tok, encoder.max_seq_length, 0)
    prompts = getattr(getattr(encoder, "model", None), "prompts", None) or {}
    prompt = prompts.get("document") or prompts.get("passage") or ""
    prompt_tokens = len(tok(prompt, add_special_tokens=False)["input_ids"]) if prompt else 0
    return TokenizerInfo(tok, encoder.max_seq_length, tok.num_special_tokens_to_add() + prompt_tokens)


def make_chunker(info: TokenizerInfo, settings: Settings) -> Chunker:
    """A chunker that never exceeds the model's limit, whatever ``max_tokens`` asks for."""
    chunking = settings.chunking
    budget = info.chunk_budget
    if chunking.max_tokens is not None:
        budget = min(budget, chunking.max_tokens)
    return Chunker(
        # the chunker runs in the producer thread while the encoder tokenizes in another: a fast
        # tokenizer keeps padding/truncation state, so the chunker gets its own copy
        info.tokenizer if isinstance(info.tokenizer, TokenCounter) else HFTokenCounter(copy.deepcopy(info.tokenizer)),
        max_tokens=budget,
        overlap_tokens=min(chunking.overlap_tokens, budget // 4),
        contextual_header=chunking.contextual_header,
    )


def make_ingestor(
    settings: Settings,
    store: Store,
    encoder: DenseModel,
    collection: str | None = None,
    *,
    sparse: bool = True,
    recreate: bool = False,
    tenant: str | None = None,
    tenant_key: str = "tenant",
    batch_size: int = 256,
) -> Ingestor:
    """Create or check the collection, then an :class:`Ingestor` writing into it."""
    from legalrag.plugin.sparse import BM25Encoder

    name = collection or settings.collection
    info = tokenizer_info(encoder)
    chunker = make_chunker(info, settings)
    existing = None if recreate else store.get_collection(name)
    bm25 = sparse_from_metadata(dict(existing.metadata)) if existing is not None else None
    if bm25 is None and sparse and (existing is None or existing.sparse_vectors):
        bm25 = BM25Encoder()
    chunking = {
        "max_tokens": chunker.max_tokens,
        "overlap_tokens": chunker.overlap_tokens,
        "contextual_header": chunker.contextual_header,
    }
    metadata: dict[str, Any] = {
        "dimension": encoder.dimension,
        "distance": encoder.distance,
        "chunking": chunking,
        "sparse": bm25.config() if bm25 is not None else None,
    }
    ensure_collection(
        store,
        name,
        dimension=encoder.dimension,
        distance=encoder.distance,
        model=encoder.name,
        sparse=bm25 is not None,
        metadata=metadata,
        recreate=recreate,
        tenant_key=tenant_key if tenant else None,
        options=settings.collection_options,
    )
    fingerprint = fingerprint_of(model=encoder.name, chunking=chunking, sparse=metadata["sparse"])
    extra = {tenant_key: tenant} if tenant else None
    return Ingestor(
        store,
        name,
        chunker,
        encoder,
        bm25,
        fingerprint=fingerprint,
        batch_size=batch_size,
        extra_payload=extra,
        tenant_key=tenant_key,
    )
