"""LangChain to legalrag translation for ``LegalVectorStore``: inputs, ids, documents, kwargs, relevance, MMR."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from legalrag.plugin.errors import InputError
from legalrag.plugin.schema import ID_NAMESPACE, RESERVED_KEYS, TEXT_KEY
from legalrag.plugin.store.base import Hit

__all__ = [
    "LC_ID_KEY",
    "mmr",
    "no_extra",
    "own_metadata",
    "point_id",
    "prepare_texts",
    "search_options",
    "to_document",
]

#: payload key keeping the id a document was added under (``Document.id``)
LC_ID_KEY = "lc_id"
_RESERVED = {TEXT_KEY, LC_ID_KEY}
#: other keys only legalrag writes: a document's metadata naming one is stored as ``meta_<key>``, as ingest
#: does (``tenant`` would otherwise move it into another tenant's view, ``version`` confuse re-ingest)
RENAMED = frozenset(RESERVED_KEYS - _RESERVED)


def own_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` with the keys legalrag writes itself renamed ``meta_<key>``."""
    return {(f"meta_{key}" if key in RENAMED else key): value for key, value in meta.items()}


def point_id(user_id: str, tenant: str | None = None) -> str:
    """The point id for a caller's id: a UUID as it is, anything else hashed to a uuid5.

    A tenant-bound store hashes non-UUID ids with its tenant, so two tenants both using id "1"
    get different points; a UUID id is global, and writes check it is not another tenant's.
    """
    try:
        return str(uuid.UUID(str(user_id)))
    except ValueError:
        scope = f"{tenant}\x1f" if tenant is not None else ""
        return str(uuid.uuid5(ID_NAMESPACE, f"lc\x1f{scope}{user_id}"))


def prepare_texts(
    texts: Iterable[str], metadatas: list[dict[str, Any]] | None, ids: Sequence[str | None] | None
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """Check the inputs and give every text an id (a random UUID where the caller gave none)."""
    items = list(texts)
    metas = metadatas or [{} for _ in items]
    keys = [str(i) if i is not None else str(uuid.uuid4()) for i in (ids or [None] * len(items))]
    if not (len(metas) == len(keys) == len(items)):
        raise InputError(
            f"got {len(items)} texts, {len(metas)} metadatas and {len(keys)} ids: pass one of each per text"
        )
    for meta in metas:
        clash = _RESERVED & set(meta)
        if clash:
            raise InputError(f"metadata key(s) {sorted(clash)} are reserved by legalrag: rename them")
    return items, metas, keys


def no_extra(kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")


def search_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments :meth:`Searcher.search` takes beyond query, k and filter."""
    options = {key: kwargs.pop(key, None) for key in ("mode", "score_threshold", "group_by")}
    no_extra(kwargs)
    return options


def mmr(query: Sequence[float], hits: list[Hit], k: int, lambda_mult: float) -> list[Document]:
    if not hits:
        return []
    vectors = [h.dense or [] for h in hits]
    picked = maximal_marginal_relevance(np.array(query), vectors, lambda_mult=lambda_mult, k=k)
    return [to_document(hits[i]) for i in picked]


def to_document(hit: Hit) -> Document:
    metadata = {k: v for k, v in hit.payload.items() if k not in _RESERVED}
    return Document(
        page_content=str(hit.payload.get(TEXT_KEY, "")),
        metadata=metadata,
        id=str(hit.payload.get(LC_ID_KEY, hit.id)),
    )
