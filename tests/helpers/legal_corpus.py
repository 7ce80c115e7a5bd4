"""A dozen real-looking provisions (ko, en, vi, zh) written into a store the way ingest writes them."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from qdrant_client import AsyncQdrantClient

from legalrag.plugin.collection import ensure_collection
from legalrag.plugin.schema import DENSE_VECTOR, SPARSE_VECTOR, TEXT_KEY, point_id
from legalrag.plugin.store.base import CollectionSpec, PointRecord, Store
from legalrag.plugin.store.client.aio import AsyncClientStore
from legalrag.plugin.text.bm25 import BM25Encoder

__all__ = ["LAWS", "PROVISIONS", "async_copy", "build_points", "copy_schema", "populate"]

#: the collection tests write the provisions to
LAWS = "laws"

#: (doc_id, title, article, chunk_index, language, year) of each text below
_META: list[tuple[str, str, str, int, str, int]] = [
    ("pipa", "개인정보 보호법", "제1조", 0, "ko", 2011),
    ("pipa", "개인정보 보호법", "제15조", 0, "ko", 2011),
    ("pipa", "개인정보 보호법", "제15조", 1, "ko", 2011),
    ("pipa", "개인정보 보호법", "제17조", 0, "ko", 2011),
    ("card", "여신전문금융업법", "제16조", 0, "ko", 2020),
    ("gdpr", "GDPR", "Article 6", 0, "en", 2016),
    ("gdpr", "GDPR", "Article 6", 1, "en", 2016),
    ("gdpr", "GDPR", "Article 7", 0, "en", 2016),
    ("gdpr", "GDPR", "Article 17", 0, "en", 2016),
    ("cpl", "Luật Bảo vệ quyền lợi người tiêu dùng", "Điều 5", 0, "vi", 2023),
    ("pipl", "个人信息保护法", "第一条", 0, "zh", 2021),
    ("pipl", "个人信息保护法", "第十三条", 0, "zh", 2021),
]
_TEXTS = [
    "제1조(목적) 이 법은 개인정보의 처리 및 보호에 관한 사항을 정함으로써 개인의 자유와 권리를 보호함을 목적으로 한다.",
    "제15조(개인정보의 수집ㆍ이용) ① 개인정보처리자는 정보주체의 동의를 받은 경우 개인정보를 수집할 수 있다.",
    "② 개인정보처리자는 동의를 받을 때에는 개인정보의 수집ㆍ이용 목적과 보유 기간을 정보주체에게 알려야 한다.",
    "제17조(개인정보의 제공) 개인정보처리자는 정보주체의 동의를 받은 경우 개인정보를 제3자에게 제공할 수 있다.",
    "제16조(신용카드회원등에 대한 책임) 신용카드업자는 신용카드회원으로부터 "
    "분실ㆍ도난 등의 통지를 받은 때부터 그 회원에 대하여 책임을 진다.",
    "Article 6. Processing shall be lawful only if the data subject has given consent to the processing "
    "of his or her personal data.",
    "Consent of the data subject means any freely given, specific, informed and unambiguous indication "
    "of agreement to the processing of personal data.",
    "Article 7. Where processing is based on consent, the controller shall be able to demonstrate that "
    "the data subject has consented to processing of his or her personal data.",
    "Article 17. The data subject shall have the right to obtain from the controller the erasure of "
    "personal data concerning him or her without undue delay.",
    "Điều 5. Người tiêu dùng có nghĩa vụ kiểm tra hàng hóa trước khi nhận và cung cấp thông tin trung thực.",
    "第一条 为了保护个人信息权益，规范个人信息处理活动，促进个人信息合理利用，制定本法。",
    "第十三条 符合下列情形之一的，个人信息处理者方可处理个人信息：取得个人的同意。",
]
#: (doc_id, title, article, chunk_index, language, year, text)
PROVISIONS: list[tuple[str, str, str, int, str, int, str]] = [
    (*meta, text) for meta, text in zip(_META, _TEXTS, strict=True)
]


def build_points(embeddings: Embeddings, bm25: BM25Encoder) -> list[PointRecord]:
    """The provisions as points: payload = metadata + text, dense and BM25 vectors, uuid5 ids."""
    texts = [row[-1] for row in PROVISIONS]
    dense = embeddings.embed_documents(texts)
    sparse = bm25.encode_documents(texts)
    points = []
    for position, (row, vector, terms) in enumerate(zip(PROVISIONS, dense, sparse, strict=True)):
        doc_id, title, article, index, language, year, text = row
        payload = {
            "doc_id": doc_id,
            "title": title,
            "article": article,
            "chunk_index": index,
            "language": language,
            "year": year,
            TEXT_KEY: text,
        }
        points.append(PointRecord(id=point_id(doc_id, "v1", position), payload=payload, dense=vector, sparse=terms))
    return points


def populate(store: Store, name: str, points: list[PointRecord], bm25: BM25Encoder) -> None:
    """Create ``name`` as ingest does (legalrag schema, indexes, BM25 config); upsert ``points``."""
    ensure_collection(
        store,
        name,
        dimension=len(points[0].dense or []),
        distance="Cosine",
        model="test-model",
        sparse=True,
        metadata={"sparse": bm25.config()},
    )
    store.upsert(name, points)


async def copy_schema(store: Store, astore: AsyncClientStore, name: str) -> None:
    """Create in ``astore`` an empty collection laid out like ``name`` in ``store``.

    With a real server the sync and async clients see one collection; two local-mode clients
    (``:memory:``) are two databases, so tests create the collection in both.
    """
    info = store.get_collection(name)
    if info is None:
        raise LookupError(f"collection {name!r} is not in {store!r}")
    dense = info.vectors[DENSE_VECTOR]
    spec = CollectionSpec(
        dense_size=dense.size,
        distance=dense.distance,
        dense_name=DENSE_VECTOR,
        sparse_name=SPARSE_VECTOR if SPARSE_VECTOR in info.sparse_vectors else None,
        metadata=dict(info.metadata),
    )
    await astore.create_collection(name, spec)


async def async_copy(store: Store, name: str, points: list[PointRecord]) -> AsyncClientStore:
    """Collection ``name`` of ``store`` again, in a new async local-mode client holding ``points``.

    Two local-mode clients are two databases (see :func:`copy_schema`), so the copy is filled anew.
    """
    astore = AsyncClientStore(AsyncQdrantClient(":memory:"))
    await copy_schema(store, astore, name)
    await astore.upsert(name, points)
    return astore
