"""A BGE-M3-sized model (568M parameters, 2.2 GB in fp32) through the ONNX runtime.

ONNX files are protobuf, capped at 2 GB: a model past that must keep its weights as external
data beside ``model.onnx``. The tiny fixtures never reach that size, so this test builds the full
architecture with random weights. Off by default (``-m slow``): ~1 minute and ~8 GB of RAM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from legalrag.plugin.models.encoder import DenseEncoder
from legalrag.plugin.settings import EmbeddingSettings

pytestmark = pytest.mark.slow

TEXTS = ["제1조(목적) 이 법은 금융소비자의 권익을 보호한다.", "Điều 2. Đối tượng áp dụng", "第三条 本法适用于"]


def test_a_model_over_2_gb_exports_with_external_data(tmp_path: Path) -> None:
    from tests.helpers.tiny_models import build_tiny_bge_m3

    path = build_tiny_bge_m3(tmp_path / "big", layers=24, model_vocab=250_002, intermediate=4096)
    assert sum(f.stat().st_size for f in path.rglob("*.safetensors")) > 2**31
    reference = DenseEncoder.load(str(path), "cpu", EmbeddingSettings(precision="fp32")).encode_documents(TEXTS)
    cache = tmp_path / "cache"
    out = DenseEncoder.load(str(path), "cpu", EmbeddingSettings(backend="onnx", cache_folder=cache)).encode_documents(
        TEXTS
    )
    cosine = (out * reference).sum(axis=1) / np.linalg.norm(out, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() > 0.9999
    (graph,) = cache.rglob("model.onnx")
    assert graph.stat().st_size < 2**31 < sum(f.stat().st_size for f in graph.parent.iterdir())
