"""The GPU path, proven in one run: embedding throughput and MFU, end-to-end ingest, OOM back-off, training.

Needs nothing from the hub: it builds random-weight models with BGE-M3's architecture (XLM-R, 24 layers,
1024-d, 568M parameters) and multilingual-e5-small's (BERT, 12 layers, 384-d), then prints one JSON
document:

* ``tokens_per_s`` / ``mfu``: statute chunks at 512 tokens through plain ``SentenceTransformer.encode``
  (fp32 and fp16) and legalrag's ``DenseEncoder`` (bf16 weights, token-budget batches over length-sorted
  texts); model FLOP utilisation against the bf16 matmul peak measured in the same run;
* ``pipeline_overhead``: a few MB of card-legal-data ingested into the embedded store, (run − time in
  the encoder) / time in the encoder, with chunks/s;
* ``oom``: a batch budget far too large shrinks and finishes; with the device's memory taken, the
  documented error (on a CPU both are simulated: the encoder is made to fail like CUDA does);
* ``training``: steps/s and peak memory of ``legalrag train``'s trainer (CachedMNRL, effective batch
  4,096, bf16) on synthetic pairs.

    python -m bench.gpu.check                       # on a GPU: about 2 minutes on an H200 (measured)
    python -m bench.gpu.check --device cpu --tiny   # the same code at toy sizes, a few minutes

For a GPU machine that reaches no package index, ``bash bench/gpu/prepare.sh`` gathers the wheels and a
corpus sample to copy there and prints the one command to run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# import root alone (the subpackages live in plugin/, ingest/, ...) and would shadow a non-editable install
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.speed.embed import bf16_peak_tflops, flops_per_token

SIZES = {
    # name: (tiny?, builder kwargs)
    "bge-m3": {"full": {"hidden": 1024, "layers": 24, "model_vocab": 250_002, "intermediate": 4096},
               "tiny": {"hidden": 64, "layers": 2}},
    "e5-small": {"full": {"hidden": 384, "layers": 12, "model_vocab": 250_037, "intermediate": 1536},
                 "tiny": {"hidden": 32, "layers": 2}},
}  # fmt: skip


def build(name: str, folder: Path, tiny: bool) -> Path:
    """A random-weight model shaped like ``name`` (tokenizer trained on legal text in a second)."""
    from tests.helpers.tiny_models import build_tiny_bge_m3

    kwargs = dict(SIZES[name]["tiny" if tiny else "full"])
    if name == "e5-small":
        kwargs.update(pooling="mean")
    return build_tiny_bge_m3(folder / name, max_seq_length=512, **kwargs)


def corpus_files(corpus: Path | None, megabytes: float) -> list[Path]:
    """Statutes to embed and ingest: ``--corpus`` (a folder, e.g. carried to a GPU machine), else card-legal-data."""
    if corpus is None:
        from bench.common import legal_files

        return legal_files(max_mb=megabytes)
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".md", ".json", ".txt"))
    picked, total = [], 0
    for path in files:
        if total >= megabytes * 1e6:
            break
        picked.append(path)
        total += path.stat().st_size
    return picked


def texts(n: int, model: Path, files: list[Path]) -> list[str]:
    """``n`` statute chunks of at most 512 of the model's tokens."""
    from legalrag.ingest import chunk_paths
    from legalrag.plugin.settings import Settings

    chunks, _ = chunk_paths(files, settings=Settings(model=str(model), chunking={"max_tokens": 512}))
    out = [c.embed_text for c in chunks]
    while out and len(out) < n:  # a small corpus: repeat it (throughput does not care)
        out = out + out
    return out[:n]


@contextlib.contextmanager
def _synced(device: str) -> Iterator[Callable[[], float]]:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    box: dict[str, float] = {}
    yield lambda: box["seconds"]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    box["seconds"] = time.perf_counter() - started


def embedding(model: Path, sample: list[str], device: str) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from legalrag.plugin.models.encoder import DenseEncoder
    from legalrag.plugin.settings import EmbeddingSettings

    plain = SentenceTransformer(str(model), device=device)
    tokens = sum(len(ids) for ids in plain.tokenizer(sample, truncation=True, max_length=512)["input_ids"])
    rates: dict[str, float] = {}
    seconds: dict[str, float] = {}

    def run(name: str, fn: Callable[[list[str]], Any]) -> None:
        fn(sample[:32])  # warm up
        with _synced(device) as took:
            fn(sample)
        seconds[name] = took()
        rates[name] = tokens / seconds[name]

    run("sentence_transformers_fp32", lambda t: plain.encode(t, batch_size=32))
    if device.startswith("cuda"):
        half = SentenceTransformer(str(model), device=device).half()  # model_kwargs' dtype name differs by version
        run("sentence_transformers_fp16", lambda t: half.encode(t, batch_size=32))
        del half
    ours = DenseEncoder.load(str(model), device, EmbeddingSettings())
    run(f"legalrag_{ours.precision}", ours.encode_documents)
    peak = bf16_peak_tflops(device) if device.startswith("cuda") else _cpu_peak()
    per_token = flops_per_token(plain, tokens / len(sample))
    mfu = {name: rate * per_token / (peak * 1e12) for name, rate in rates.items()}
    return {
        "texts": len(sample),
        "tokens": tokens,
        "tokens_per_s": {k: round(v) for k, v in rates.items()},
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "mfu": {k: round(v, 4) for k, v in mfu.items()},
        "peak_tflops_bf16": round(peak, 1),
        "flops_per_token": per_token,
        "batch_tokens": ours.batch_tokens,
    }


def _cpu_peak() -> float:
    """The CPU's bf16 matmul throughput (TFLOP/s), measured like the GPU's: a meaningless MFU otherwise."""
    import torch

    a = torch.randn(1024, 1024, dtype=torch.bfloat16)
    a @ a
    started = time.perf_counter()
    for _ in range(5):
        a @ a
    return 2 * 1024**3 * 5 / (time.perf_counter() - started) / 1e12


def ingest(model: Path, device: str, files: list[Path], store: Path, sparse: bool = True) -> dict[str, Any]:
    from legalrag.ingest import IngestOptions, ingest_paths
    from legalrag.plugin.settings import Settings

    settings = Settings(model=str(model), device=device, qdrant_path=store, collection="gpu")
    report = ingest_paths(files, IngestOptions(sparse=sparse), settings=settings)
    overhead = (report.seconds - report.embed_seconds) / report.embed_seconds if report.embed_seconds else None
    return {
        "files": len(files),
        "megabytes": round(sum(f.stat().st_size for f in files) / 1e6, 2),
        "chunks": report.chunks,
        "sparse": sparse,
        "seconds": round(report.seconds, 2),
        "embed_seconds": round(report.embed_seconds, 2),
        "chunks_per_s": round(report.chunks / report.seconds, 1) if report.seconds else None,
        "pipeline_overhead": round(overhead, 4) if overhead is not None else None,
    }


def oom(model: Path, device: str, sample: list[str]) -> dict[str, Any]:
    """A budget far too large shrinks and finishes; with no memory left, the documented error."""
    from legalrag.plugin.errors import LegalRAGError
    from legalrag.plugin.models.encoder import MIN_BATCH_TOKENS, DenseEncoder
    from legalrag.plugin.settings import EmbeddingSettings

    encoder = DenseEncoder.load(str(model), device, EmbeddingSettings(batch_tokens=1 << 30))
    simulated = not device.startswith("cuda")
    if simulated:  # a CPU never runs out like a GPU: fail like CUDA above a budget this run picks
        _simulate_oom(encoder, limit=4096)
    start_budget = encoder.batch_tokens
    if simulated:
        out = encoder.encode_documents(sample)
    else:  # a large GPU holds a whole sample in one batch: leave it too little memory for that
        with _memory_taken(device, encoder, leave=SHRINK_LEAVE):
            out = encoder.encode_documents(sample)
    result: dict[str, Any] = {
        "simulated": simulated,
        "texts": len(sample),
        "memory_left_gb": None if simulated else SHRINK_LEAVE / 2**30,
        "start_batch_tokens": start_budget,
        "final_batch_tokens": encoder.batch_tokens,
        "shrank_and_finished": encoder.batch_tokens < start_budget and len(out) == len(sample),
        "floor": MIN_BATCH_TOKENS,
    }
    with _memory_taken(device, encoder) as taken:
        try:
            encoder.encode_documents(sample[:8])
            result["below_floor"] = "no error (memory could not be taken)" if not taken else "no error"
        except LegalRAGError as exc:
            result["below_floor"] = str(exc)
            result["documented_error"] = "out of GPU memory even at" in str(exc)
    return result


def _simulate_oom(encoder: Any, *, limit: int) -> None:
    """Make ``encoder``'s model fail as CUDA does on batches of more than ``limit`` padded tokens."""
    encoder.model = _Limited(encoder.model, limit)


class _Limited:
    """A model that raises CUDA's out-of-memory error above ``limit`` padded tokens per batch."""

    def __init__(self, model: Any, limit: int) -> None:
        self._model = model
        self.limit = limit
        self.hits = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode_document(self, texts: list[str], *args: Any, **kwargs: Any) -> Any:
        lengths = [len(ids) for ids in self._model.tokenizer(texts, truncation=True, max_length=512)["input_ids"]]
        if len(texts) * max(lengths) > self.limit:
            self.hits += 1
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return self._model.encode_document(texts, *args, **kwargs)


#: the device memory the shrinking part leaves free: a budget's first batch of 512 chunks does not fit in it
SHRINK_LEAVE = 2 << 30


@contextlib.contextmanager
def _memory_taken(device: str, encoder: Any, leave: int = 0) -> Iterator[bool]:
    """All of the device's memory but about ``leave`` bytes taken (by default all of it: 64 MB left still
    held an 8-chunk batch of the 568M-parameter model in bf16 on an H200); on a CPU, the simulated model
    fails every batch."""
    if not device.startswith("cuda"):
        encoder.model.limit = 0  # every batch fails: the back-off reaches its floor
        yield True
        return
    import torch

    blocks = []
    torch.cuda.empty_cache()  # what PyTorch caches counts as free to the encoder, not to mem_get_info
    try:
        free, _ = torch.cuda.mem_get_info()
        ask = free - leave
        while ask >= 1 << 20:  # halve an ask the allocator refuses, down to a megabyte
            try:
                blocks.append(torch.empty(ask, dtype=torch.uint8, device=device))
            except RuntimeError:
                ask //= 2
                continue
            free, _ = torch.cuda.mem_get_info()
            ask = free - leave
        yield bool(blocks)
    finally:
        del blocks
        torch.cuda.empty_cache()


def training(model: Path, device: str, tiny: bool, work: Path) -> dict[str, Any]:
    """Steps/s and peak memory of the trainer legalrag train uses: CachedMNRL at a large effective batch."""
    import torch

    from legalrag.plugin.models.encoder import resolve_precision
    from legalrag.train.data import Pair
    from legalrag.train.fit import FitOptions, fit_embedder
    from legalrag.train.mining import Mined

    batch, mini = (32, 8) if tiny else (4096, 256)
    steps = 3  # the first step also pays for CUDA's warm-up
    words = [
        "신용카드",
        "분실",
        "도난",
        "책임",
        "개인정보",
        "수집",
        "동의",
        "제공",
        "보호",
        "처리",
        "회원",
        "가맹점",
        "금융",
        "법률",
        "조항",
    ]
    mined = [
        Mined(Pair(f"q{i}", " ".join(words[(i + j) % len(words)] for j in range(12)), f"d{i}",
                   " ".join(words[(i * 7 + j) % len(words)] for j in range(120))), ())
        for i in range(batch * steps)
    ]  # fmt: skip
    options = FitOptions(epochs=1, batch_size=batch, mini_batch_size=mini, max_seq_length=256, device=device,
                         save_steps=10_000, logging_steps=1)  # fmt: skip
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    _, history = fit_embedder(str(model), mined, work / "trained", options)
    seconds = time.perf_counter() - started
    done = max((int(r.get("global_step", 0)) for r in history), default=0)
    summary = next((r for r in reversed(history) if "train_runtime" in r), {})  # the trainer's own clock
    peak = torch.cuda.max_memory_allocated() / 1e9 if device.startswith("cuda") else None
    return {
        "effective_batch": batch,
        "mini_batch": mini,
        "steps": done,
        "seconds": round(seconds, 1),
        "steps_per_s": round(done / seconds, 4) if seconds else None,  # with loading and saving the model
        "trainer_runtime_s": summary.get("train_runtime"),
        "trainer_steps_per_s": summary.get("train_steps_per_second"),
        "trainer_samples_per_s": summary.get("train_samples_per_second"),
        "peak_memory_gb": round(peak, 2) if peak is not None else None,
        "precision": resolve_precision("auto", device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="toy sizes (a CPU run of the same code)")
    parser.add_argument("--texts", type=int, default=None)
    parser.add_argument("--ingest-mb", type=float, default=None)
    parser.add_argument("--corpus", type=Path, default=None, help="statutes folder (default: card-legal-data)")
    parser.add_argument("--no-sparse", action="store_true", help="ingest without BM25 (no Korean analyser there)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--parts", default=None, help="only these parts, comma-separated (e.g. oom,training)")
    args = parser.parse_args()
    import torch

    device = args.device
    texts_n = args.texts or (48 if args.tiny else 2000)
    megabytes = args.ingest_mb or (0.05 if args.tiny else 3.0)
    result: dict[str, Any] = {
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "tiny": args.tiny,
        "date": time.strftime("%Y-%m-%d"),
    }
    started = time.perf_counter()
    files = corpus_files(args.corpus, max(megabytes, 1.0 if not args.tiny else 0.2))
    ingest_files = corpus_files(args.corpus, megabytes)
    with tempfile.TemporaryDirectory(prefix="legalrag-gpu-") as tmp:
        work = Path(tmp)
        for name in SIZES:
            section: dict[str, Any] = {}
            result[name] = section
            section["build"] = _guarded(lambda n=name: {"path": str(build(n, work, args.tiny))})
            model = Path(section["build"].get("path", ""))
            chunked: dict[str, list[str]] = {}  # statute chunks, made once the part before them is safe
            parts: dict[str, Callable[[], dict[str, Any]]] = {}
            if name == "bge-m3":  # training first: the part a short lease must not lose
                parts["training"] = lambda m=model: training(m, device, args.tiny, work)
            parts["texts"] = lambda m=model, c=chunked: {"texts": len(c.setdefault("s", texts(texts_n, m, files)))}
            parts["embedding"] = lambda m=model, c=chunked: embedding(m, c["s"], device)
            if name == "bge-m3":
                parts["ingest"] = lambda m=model, w=work / "store", b=not args.no_sparse: ingest(
                    m, device, ingest_files, w, sparse=b
                )
                parts["oom"] = lambda m=model, c=chunked: oom(m, device, c["s"][:512])
            wanted = set(args.parts.split(",")) | {"texts"} if args.parts else set(parts)
            for part, fn in parts.items():
                if part not in wanted:
                    continue
                section[part] = _guarded(fn)
                _write(result, args.out)  # what ran so far survives a run cut off at its time limit
    bge = result["bge-m3"]
    result["tokens_per_s"] = bge.get("embedding", {}).get("tokens_per_s")
    result["mfu"] = bge.get("embedding", {}).get("mfu")
    result["pipeline_overhead"] = bge.get("ingest", {}).get("pipeline_overhead")
    result["oom"] = bge.get("oom")
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    _write(result, args.out)


def _write(result: dict[str, Any], out: Path | None) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


def _guarded(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one part; a failure is recorded (with its traceback's end) and the other parts still run."""
    started = time.perf_counter()
    try:
        out = fn()
    except Exception as exc:  # the check reports every part, whatever fails
        out = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-1500:]}
    out["part_seconds"] = round(time.perf_counter() - started, 1)
    return out


if __name__ == "__main__":
    main()
