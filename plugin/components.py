"""Build the working parts (encoder, tokenizer, sparse encoder, searcher) from settings in one place."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legalrag.plugin.collection import require_collection
from legalrag.plugin.models.adapters import is_adapter_model, load_adapter
from legalrag.plugin.models.encoder import resolve_model_path
from legalrag.plugin.models.loading import load_dense_model
from legalrag.plugin.models.protocol import DenseModel
from legalrag.plugin.search.searcher import Mode, SearchConfig, Searcher
from legalrag.plugin.settings import Settings
from legalrag.plugin.store.base import Store

if TYPE_CHECKING:
    from legalrag.plugin.store.client.aio import AsyncStore
    from legalrag.plugin.text.bm25 import BM25Encoder

__all__ = ["TokenizerInfo", "load_dense", "load_tokenizer", "model_for", "open_searcher", "sparse_from_metadata"]


@dataclass(frozen=True, slots=True)
class TokenizerInfo:
    """A model's tokenizer and the token budget one chunk may use (specials and prompt excluded)."""

    tokenizer: Any
    max_seq_length: int
    reserved: int

    @property
    def chunk_budget(self) -> int:
        return self.max_seq_length - self.reserved

    @classmethod
    def for_model(cls, tokenizer: Any, max_seq_length: int, prompts: dict[str, str] | None) -> TokenizerInfo:
        """The one rule for a model's token budget: ``max_seq_length`` less the special tokens and the
        tokens of its document prompt (``document``, else ``passage``: E5's ``passage: ``)."""
        prompt = document_prompt(prompts)
        prompt_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) if prompt else 0
        return cls(tokenizer, max_seq_length, tokenizer.num_special_tokens_to_add() + prompt_tokens)


def document_prompt(prompts: dict[str, str] | None) -> str:
    """The prompt a model puts before a document (sentence-transformers' ``prompts``), or ``""``."""
    prompts = prompts or {}
    return str(prompts.get("document") or prompts.get("passage") or "")


def model_for(settings: Settings, metadata: dict[str, Any] | None = None) -> str:
    """The model to use: set explicitly (flag or env) wins, then the collection's own, then the default."""
    if "model" in settings.model_fields_set or not metadata or not metadata.get("model"):
        return settings.model
    return str(metadata["model"])


def load_dense(settings: Settings, model: str | None = None) -> DenseModel:
    """The dense model named by ``model`` (or the settings): sentence-transformers, or ``use:...``."""
    return load_dense_model(
        model or settings.model, settings.device, settings.embedding, max_tokens=settings.chunking.max_tokens
    )


def load_tokenizer(model: str, settings: Settings) -> TokenizerInfo:
    """Only the tokenizer and ``max_seq_length`` (``legalrag chunk`` needs no weights)."""
    if is_adapter_model(model):
        adapter = load_adapter(model, max_tokens=settings.chunking.max_tokens)
        return TokenizerInfo(adapter.tokenizer, adapter.max_seq_length, 0)
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    trust = settings.embedding.trust_remote_code
    path = Path(resolve_model_path(model, settings.embedding.cache_folder, trust_remote_code=trust))
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=trust)
    return TokenizerInfo.for_model(tokenizer, _max_seq_length(path, tokenizer), _prompts(path))


def _max_seq_length(path: Path, tokenizer: Any) -> int:
    """The model's ``max_seq_length`` as sentence-transformers loads it, without loading the weights.

    sentence-transformers < 6 writes it to ``sentence_bert_config.json``; 6 keeps it as the
    tokenizer's ``model_max_length``. A tokenizer without a real limit (a huge sentinel) means 512.
    """
    config = path / "sentence_bert_config.json"
    if config.is_file():
        stored = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if stored:
            return int(stored)
    limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    return limit if 0 < limit < 100_000 else 512


def _prompts(path: Path) -> dict[str, str]:
    """The prompts a sentence-transformers folder declares, read without loading the model."""
    config = path / "config_sentence_transformers.json"
    if not config.is_file():
        return {}
    return dict(json.loads(config.read_text(encoding="utf-8")).get("prompts") or {})


def sparse_from_metadata(metadata: dict[str, Any]) -> BM25Encoder | None:
    config = metadata.get("sparse")
    if not config:
        return None
    from legalrag.plugin.text.bm25 import BM25Encoder

    return BM25Encoder.from_config(config)


def open_searcher(
    settings: Settings,
    store: Store,
    collection: str | None = None,
    *,
    dense: DenseModel | None = None,
    tenant: str | None = None,
    mode: Mode | str | None = None,
    exact: bool | None = None,
    search: SearchConfig | None = None,
    astore: AsyncStore | None = None,
    strict_filters: bool = False,
) -> Searcher:
    """A searcher for an existing collection, with its stored model, BM25 and tuned fusion settings.

    Args:
        settings: the model to load when ``dense`` is not given, and the search defaults.
        store: the store holding ``collection``.
        collection: the collection (default: ``settings.collection``).
        dense: a loaded dense model (default: the collection's own model, loaded now; in sparse mode at
            the first query that asks for dense or hybrid).
        tenant: see only this tenant's documents.
        mode: the mode (default: ``settings.search.mode`` when set explicitly, else what the collection
            stores, e.g. after ``legalrag eval --tune``, else hybrid).
        exact: brute-force search instead of the index (default: ``settings.search.exact``).
        search: a whole search configuration; its fusion fields replace the collection's stored ones.
        astore: the same collection through an async client
            (:class:`~legalrag.plugin.store.client.aio.AsyncClientStore`): ``asearch`` then awaits it.
        strict_filters: a filter field no point has (or a value none holds) is an error, not a warning.

    Raises:
        CollectionNotFoundError: no such collection (the message lists those that exist).
        CollectionMismatchError: the dense model does not fit the collection.
    """
    name = collection or settings.collection
    info = require_collection(store, name)
    metadata = dict(info.metadata)
    config = search or settings.search
    if search is None and "search" not in settings.model_fields_set:
        # what tuning stored with the collection wins over defaults, never over what a user set
        tuned = {k: v for k, v in (metadata.get("search") or {}).items() if k in SearchConfig.model_fields}
        config = config.with_changes(**tuned)
    changes: dict[str, Any] = {}
    if mode is not None:
        changes["mode"] = mode
    if exact is not None:
        changes["exact"] = exact
    config = config.with_changes(**changes) if changes else config

    def load() -> DenseModel:
        from legalrag.plugin.collection import check_compatible

        loaded = dense or load_dense(settings, model_for(settings, metadata))
        check_compatible(info, dimension=loaded.dimension, distance=loaded.distance, model=loaded.name)
        return loaded

    # sparse by default: the model loads at the first query that asks for dense or hybrid, not now
    lazy = config.mode == "sparse"
    return Searcher(
        store,
        name,
        None if lazy else load(),
        sparse_from_metadata(metadata),
        config=config,
        tenant=tenant,
        astore=astore,
        strict_filters=strict_filters,
        dense_loader=load if lazy else None,
    )
