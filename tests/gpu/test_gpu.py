"""The GPU path at small sizes (marker ``gpu``, off by default; skipped without CUDA): bf16 embeddings agree
with fp32 on the CPU, OOM back-off shrinks and finishes and then fails as documented, the trainer runs
its bf16 steps. ``bench.gpu.check`` measures the same paths at full size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TEXTS = [f"제{i}조(목적) 이 법은 개인정보의 처리 및 보호에 관한 사항을 정한다. " * (1 + i % 7) for i in range(64)]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers.tiny_models import build_tiny_bge_m3

    return build_tiny_bge_m3(tmp_path_factory.mktemp("gpu-model"), hidden=256, layers=2)


def test_bf16_on_the_gpu_agrees_with_fp32_on_the_cpu(model: Path) -> None:
    from legalrag.plugin.models.encoder import DenseEncoder
    from legalrag.plugin.settings import EmbeddingSettings

    gpu = DenseEncoder.load(str(model), "cuda", EmbeddingSettings())
    cpu = DenseEncoder.load(str(model), "cpu", EmbeddingSettings(precision="fp32"))
    assert gpu.precision in ("bf16", "fp16") and gpu.batch_tokens == 65536
    a, b = gpu.encode_documents(TEXTS), cpu.encode_documents(TEXTS)
    cosine = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.99


def test_oom_backoff_shrinks_then_fails_as_documented(model: Path) -> None:
    from legalrag.plugin.errors import LegalRAGError
    from legalrag.plugin.models.encoder import DenseEncoder
    from legalrag.plugin.settings import EmbeddingSettings

    encoder = DenseEncoder.load(str(model), "cuda", EmbeddingSettings(batch_tokens=1 << 30))
    texts = TEXTS * 32  # one batch under this budget
    torch.cuda.empty_cache()  # what PyTorch caches would count as free to the encoder, not to mem_get_info
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    encoder.encode_documents(texts)
    need = torch.cuda.max_memory_allocated() - before  # what that one batch takes: sized by this GPU, not a guess
    blocks = []
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info()
    try:  # room for a quarter of that batch: the budget must shrink, and the smaller batches must then fit
        blocks.append(torch.empty(max(free - need // 4, 1 << 20), dtype=torch.uint8, device="cuda"))
        out = encoder.encode_documents(texts)
        assert out.shape[0] == len(texts) and encoder.batch_tokens < 1 << 30
        torch.cuda.empty_cache()  # the smaller batches' cached blocks too (8 MB left still held a batch)
        free, _ = torch.cuda.mem_get_info()
        ask = free
        # all of it, the free room inside the allocator's partly used segments too: halve an ask the allocator
        # refuses down to 512 bytes (taken down to 1 MB, what was left on an H200 still held one short text)
        while ask >= 512:
            try:
                blocks.append(torch.empty(ask, dtype=torch.uint8, device="cuda"))
            except RuntimeError:
                ask //= 2
                continue
            ask = max(torch.cuda.mem_get_info()[0], ask)
        with pytest.raises(LegalRAGError, match="out of GPU memory even at"):
            encoder.encode_documents([TEXTS[6] * 12])  # one sequence of the full 512 tokens
    finally:
        blocks.clear()
        torch.cuda.empty_cache()


def test_training_steps_in_bf16(model: Path, tmp_path: Path) -> None:
    from legalrag.train.data import Pair
    from legalrag.train.fit import FitOptions, fit_embedder
    from legalrag.train.mining import Mined

    mined = [Mined(Pair(f"q{i}", f"질문 {i}", f"d{i}", TEXTS[i % len(TEXTS)]), ()) for i in range(64)]
    options = FitOptions(epochs=1, batch_size=32, mini_batch_size=8, device="cuda", logging_steps=1)
    torch.cuda.reset_peak_memory_stats()
    _, history = fit_embedder(str(model), mined, tmp_path / "out", options)
    assert max(int(r.get("global_step", 0)) for r in history) == 2
    assert torch.cuda.max_memory_allocated() > 0
