"""Train a finished ``bench/train.py`` run's reranker on the device tool's GPU, within its transfer limits.

The device tool carries at most 64 MiB to the GPU machine and brings 64 MiB back (16 MiB a file), and
multilingual-e5-small is 470 MB in fp32, 80 % of it the 250k-row XLM-R embedding matrix, of which the
Korean Q&A uses ~6k rows. A model that only ever reads those rows trains exactly as the whole one: the
other rows get no gradient, and with no weight decay (the trainer's default, which ``fit_reranker``
keeps) Adam leaves them as they are. So the base travels as its encoder in bf16 plus the rows the texts
use, and the trained model comes back the same way:

    python bench/rerank_device.py prepare --run /work/r1 --name e5-small-trained --base /work/models/e5-small
        # here: the pack in .gpu_rerank/ (git-ignored): the base (bf16 encoder, used rows), the run's mined
        # table, and the tuned hybrid's top 50 of every dev and test query, recorded through the harness
        # as the reranker sees them; prints the device command
    python bench/rerank_device.py train --pack .gpu_rerank --runs 3:128:2 2:256:2 --out $OUT
        # on the device: the base rebuilt (unused rows zero), fit_reranker (what ``legalrag train
        # --reranker`` runs) once per --runs value, every candidate scored, the run picked by dev
        # MRR@10, that model packed into $OUT with every run's scores
    python bench/rerank_device.py finish --files /work/.device/... --base /work/models/e5-small --output DIR
        # here: the trained weights put into the full base: a CrossEncoder folder for
        # bench/rerank.py --skip-train --output DIR (the real harness, on this machine's CPU)

The starting point differs from a CPU run's only by the bf16 rounding of the encoder's weights (the
trainer keeps fp32 master weights from there); the returned weights are bf16, what ``Reranker.load``
runs on a CPU with native bf16 or on CUDA anyway. ``fsc/opinions`` is never read.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
EMBEDDING = "word_embeddings.weight"
WEIGHTS = "model.safetensors"
#: a piece of the packed weights: the device tool brings back files of at most 16 MiB
PIECE = 15 * 2**20
#: the model's own files that travel besides its weights (the tokenizer compressed)
SMALL = ("config.json", "tokenizer_config.json", "special_tokens_map.json", "modules.json",
         "sentence_bert_config.json", "config_sentence_transformers.json")  # fmt: skip


#: what runs on the device (device tool ``run``, carry [".whl_rr", PACK]): the wheels the image lacks for the
#: trainer (``bash bench/gpu_prepare.sh`` fetches them to .whl/: datasets, dill, multiprocess, and legalrag's
#: own), copied to .whl_rr/; from /tmp, where the checkout's legalrag/ folder cannot shadow the installed one
DEVICE_COMMAND = (
    "R=$PWD; python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "
    ".whl_rr/*.whl && cd /tmp && PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 python3 "
    "$R/bench/rerank_device.py train --pack {pack} --runs 3:128:2 2:256:2 --deadline-s 480 --out $OUT "
    "2>&1 | tee $OUT/log.txt"
)


def used_ids(model_dir: Path, texts: list[str]) -> list[int]:
    """The token ids ``texts`` (and the special tokens) take under the model's tokenizer, sorted."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    ids = set(tokenizer.all_special_ids)
    for start in range(0, len(texts), 1024):
        for row in tokenizer(texts[start : start + 1024], add_special_tokens=False)["input_ids"]:
            ids.update(row)
    return sorted(ids)


def pack(model_dir: Path, ids: list[int], out: Path) -> dict[str, Any]:
    """``model_dir``'s weights in bf16, of its embedding matrix only the rows ``ids``, in pieces of at
    most :data:`PIECE` bytes (``weights.N``), its small files in ``files.json.xz``."""
    import torch
    from safetensors.torch import load_file, save

    tensors = load_file(str(model_dir / WEIGHTS))
    (key,) = [k for k in tensors if k.endswith(EMBEDDING)]
    index = torch.tensor(ids, dtype=torch.long)
    packed = {k: (v[index] if k == key else v).to(torch.bfloat16).contiguous() for k, v in tensors.items()}
    packed["used_ids"] = index
    blob = save(packed, metadata={"embedding": key, "vocab": str(tensors[key].shape[0])})
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("weights.*"):
        old.unlink()
    pieces = [blob[i : i + PIECE] for i in range(0, len(blob), PIECE)]
    for n, piece in enumerate(pieces):
        (out / f"weights.{n}").write_bytes(piece)
    files = {name: (model_dir / name).read_text(encoding="utf-8") for name in SMALL if (model_dir / name).is_file()}
    for folder in sorted(p for p in model_dir.iterdir() if p.is_dir() and (p / "config.json").is_file()):
        files[f"{folder.name}/config.json"] = (folder / "config.json").read_text(encoding="utf-8")
    (out / "files.json.xz").write_bytes(lzma.compress(json.dumps(files).encode()))
    return {"bytes": len(blob), "pieces": len(pieces), "rows": len(ids), "vocab": int(tensors[key].shape[0])}


def unpack(folder: Path, out: Path, *, like: Path | None = None, tokenizer: Path | None = None) -> None:
    """A model folder from :func:`pack`'s files: the embedding matrix is ``like``'s (fp32) with the packed
    rows in place, or zeros outside them without ``like``; every other tensor fp32."""
    import torch
    from safetensors.torch import load, load_file, save_file

    pieces = sorted(folder.glob("weights.*"), key=lambda p: int(p.suffix[1:]))
    blob = b"".join(p.read_bytes() for p in pieces)
    tensors = load(blob)
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])  # safetensors: u64 size, JSON header
    meta = header["__metadata__"]
    index = tensors.pop("used_ids")
    key, vocab = meta["embedding"], int(meta["vocab"])
    rows = tensors.pop(key).float()
    if like is not None:
        base = load_file(str(like / WEIGHTS))
        (base_key,) = [k for k in base if k.endswith(EMBEDDING)]
        matrix = base[base_key].float().clone()
        if matrix.shape[0] != vocab:
            raise SystemExit(f"{like} has {matrix.shape[0]} embedding rows, the pack {vocab}")
    else:
        matrix = torch.zeros(vocab, rows.shape[1])
    matrix[index] = rows
    full = {k: v.float().contiguous() for k, v in tensors.items()}
    full[key] = matrix.contiguous()
    out.mkdir(parents=True, exist_ok=True)
    save_file(full, str(out / WEIGHTS))
    files = json.loads(lzma.decompress((folder / "files.json.xz").read_bytes()))
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    source = tokenizer if tokenizer is not None else folder / "tokenizer.json.xz"
    data = source.read_bytes()
    (out / "tokenizer.json").write_bytes(lzma.decompress(data) if source.suffix == ".xz" else data)


def _record(run: Path, name: str, data: Any) -> dict[str, Any]:
    """The tuned hybrid's first 50 hits per dev and test query, as the reranker would read them: id,
    document, text (an index into ``texts``) and the retriever's score."""
    from legalrag.eval.harness import document_ranking, required_depth
    from legalrag.eval.metrics import DEFAULT_METRICS
    from legalrag.plugin.components import load_dense, open_searcher
    from legalrag.plugin.schema import TEXT_KEY
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import store_from

    class Recorder:
        top_n = 50

        def __init__(self) -> None:
            self.seen: list[tuple[str, str, str, float]] = []

        def rerank(self, query: str, hits: list[Any]) -> list[Any]:
            self.seen = [(h.id, str(h.payload.get("doc_id")), str(h.payload.get(TEXT_KEY, "")), h.score)
                         for h in hits[: self.top_n]]  # fmt: skip
            return list(hits)

    settings = Settings(qdrant_path=run / "store", device="cpu", model=str(run / f"{name}-trained"),
                        collection=f"law-{name}-trained")  # fmt: skip
    settings = settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"precision": "fp32"})})
    texts: dict[str, int] = {}
    splits: dict[str, Any] = {}
    with store_from(settings, None) as store:
        searcher = open_searcher(settings, store, dense=load_dense(settings), exact=True)
        recorder = Recorder()
        searcher.reranker = recorder  # type: ignore[assignment]
        for split, dataset in (("dev", data.dev), ("test", data.test)):
            rows = {}
            for qid, query in dataset.queries.items():
                document_ranking(searcher, query, required_depth(list(DEFAULT_METRICS)), mode=searcher.config.mode)
                hits = [[hid, doc, texts.setdefault(t, len(texts)), score] for hid, doc, t, score in recorder.seen]
                relevant = sorted(d for d, r in dataset.qrels.get(qid, {}).items() if r > 0)
                rows[qid] = {"query": query, "relevant": relevant, "hits": hits}
            splits[split] = rows
    return {"mode": searcher.config.mode, "fusion": searcher.config.fusion, "splits": splits, "texts": list(texts)}


def prepare(args: argparse.Namespace) -> None:
    from legalrag.train.data import prepare_data
    from legalrag.train.mining import load_mined

    trained = args.table or args.run / f"{args.name}-trained"
    data = prepare_data(args.data, max_pairs=args.train)
    loaded = load_mined(trained, data.pairs, count=args.mined, relative_margin=args.relative_margin)
    if loaded is None:
        sys.exit(f"{trained} holds no mined table for these pairs and settings (--train, --mined, --relative-margin)")
    out = args.pack
    shutil.rmtree(out, ignore_errors=True)
    (out / "base").mkdir(parents=True)
    rows = [{"query_id": m.pair.query_id, "query": m.pair.query, "doc_id": m.pair.doc_id,
             "positive": m.pair.positive, "negatives": list(m.negatives)} for m in loaded[0]]  # fmt: skip
    (out / "mined.jsonl.xz").write_bytes(lzma.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    started = time.perf_counter()
    candidates = _record(args.run, args.name, data)
    print(f"candidates recorded in {time.perf_counter() - started:.0f} s ({candidates['mode']})", file=sys.stderr)
    (out / "candidates.json.xz").write_bytes(lzma.compress(json.dumps(candidates).encode()))
    texts = [t for r in rows for t in (r["query"], r["positive"], *r["negatives"])]
    texts += candidates["texts"] + [r["query"] for s in candidates["splits"].values() for r in s.values()]
    ids = used_ids(args.base, texts)
    info = pack(args.base, ids, out / "base")
    (out / "base" / "tokenizer.json.xz").write_bytes(lzma.compress((args.base / "tokenizer.json").read_bytes()))
    (out / "ids.json").write_text(json.dumps(ids))
    exclude = Path(".git/info/exclude")  # a pack inside the checkout is never committed
    inside = out.resolve().parent == Path.cwd().resolve()
    if inside and exclude.is_file() and f"/{out.name}/" not in exclude.read_text().split():
        with exclude.open("a") as handle:
            handle.write(f"/{out.name}/\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps({**info, "pack_mb": round(size / 1e6, 1), "pairs": len(rows)}))
    print(DEVICE_COMMAND.format(pack=out if out.is_absolute() else f"$R/{out}"))


def _mrr(row: dict[str, Any], scores: list[float] | None) -> float:
    """MRR@10 over documents (each by its best chunk), the hits in reranked order (``None``: as found)."""
    from legalrag.eval.metrics import reciprocal_rank_at_k

    hits = row["hits"]
    order = list(range(len(hits)))
    if scores is not None:
        order.sort(key=lambda i: (-scores[i], hits[i][0]))
    documents = list(dict.fromkeys(hits[i][1] for i in order))
    return reciprocal_rank_at_k(documents, set(row["relevant"]), 10)


def _score(model_dir: Path, candidates: dict[str, Any], device: str) -> tuple[dict[str, Any], dict[str, float]]:
    """Every candidate's score by the cross-encoder in ``model_dir`` (fp32: no ties from rounding), and
    MRR@10 per split with the candidates in that order."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(model_dir), device=device)
    texts = candidates["texts"]
    run_scores: dict[str, dict[str, list[float]]] = {}
    mrr = {}
    for split, split_rows in candidates["splits"].items():
        pairs = [(r["query"], texts[h[2]]) for r in split_rows.values() for h in r["hits"]]
        flat = model.predict(pairs, batch_size=256, show_progress_bar=False).tolist()
        at = 0
        run_scores[split] = {}
        for qid, r in split_rows.items():
            run_scores[split][qid] = flat[at : at + len(r["hits"])]
            at += len(r["hits"])
        mrr[split] = sum(_mrr(r, run_scores[split][q]) for q, r in split_rows.items()) / len(split_rows)
    return run_scores, mrr


def train(args: argparse.Namespace) -> None:
    import torch

    from legalrag.train.data import Mined, Pair
    from legalrag.train.fit import FitOptions, fit_reranker

    device = "cuda" if torch.cuda.is_available() else "cpu"
    work = Path(args.work)
    base = work / "base"
    unpack(args.pack / args.start, base, tokenizer=args.pack / "base" / "tokenizer.json.xz")
    rows = [json.loads(line) for line in lzma.decompress((args.pack / "mined.jsonl.xz").read_bytes()).splitlines()]
    table = [(Pair(r["query_id"], r["query"], r["doc_id"], r["positive"]), tuple(r["negatives"])) for r in rows]
    candidates = json.loads(lzma.decompress((args.pack / "candidates.json.xz").read_bytes()))
    if args.smoke:  # a few pairs and queries: the whole path in a minute on a CPU
        table = table[: args.smoke * 4]
        candidates["splits"] = {s: dict(list(r.items())[: args.smoke]) for s, r in candidates["splits"].items()}
    report: dict[str, Any] = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                              "pairs": len(table), "start": args.start, "runs": {}}  # fmt: skip
    report["first_stage"] = {
        s: sum(_mrr(r, None) for r in rows_.values()) / len(rows_) for s, rows_ in candidates["splits"].items()
    }
    scores: dict[str, dict[str, dict[str, list[float]]]] = {}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        (out / "report.json").write_text(json.dumps(report, indent=2))
        (out / "scores.json.xz").write_bytes(lzma.compress(json.dumps(scores).encode()))

    if args.start != "base":  # a trained reranker: its own scores first
        scores["start"], mrr = _score(base, candidates, device)
        report["runs"]["start"] = {"rerank_mrr@10": mrr}
        print(json.dumps({"run": "start", "rerank_mrr@10": mrr}), flush=True)
        write()
    ids = json.loads((args.pack / "ids.json").read_text())
    begun = time.perf_counter()
    per_unit = 0.0  # seconds per epoch, token of a text and row of a pair
    for spec in args.runs:
        epochs, length, negatives = float(spec.split(":")[0]), int(spec.split(":")[1]), int(spec.split(":")[2])
        name = f"{epochs:g}:{length}:{negatives}"
        units = epochs * length * (negatives + 2)
        if per_unit and time.perf_counter() - begun + per_unit * units * 1.1 > args.deadline_s:
            print(f"{name} skipped: would end past --deadline-s {args.deadline_s}", flush=True)
            report["runs"][name] = {"skipped": "deadline"}
            continue
        output = work / f"reranker-e{epochs:g}-l{length}-n{negatives}"
        mined = [Mined(pair, negs[:negatives]) for pair, negs in table]
        options = FitOptions(max_seq_length=length, learning_rate=args.learning_rate,
                             mini_batch_size=args.batch_size, epochs=epochs, logging_steps=50, save_steps=10**7,
                             device=device)  # fmt: skip
        started = time.perf_counter()
        history = fit_reranker(str(base), mined, output, options)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        train_s = time.perf_counter() - started
        per_unit = train_s / units
        losses = [h["loss"] for h in history if "loss" in h]
        scores[name], mrr = _score(output, candidates, device)
        report["runs"][name] = {
            "train_s": round(train_s, 1), "steps": history[-1].get("step") if history else None,
            "loss_first_last": losses[:1] + losses[-1:], "rerank_mrr@10": mrr,
            "peak_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None,
        }  # fmt: skip
        print(json.dumps({"run": name, **report["runs"][name]}), flush=True)
        # after every run: what a time limit may cut short still comes back
        done = {e: r for e, r in report["runs"].items() if "rerank_mrr@10" in r and e != "start"}
        best = max(done, key=lambda e: done[e]["rerank_mrr@10"]["dev"])
        if best == name:
            report["picked_by_dev"] = best
            report["pack"] = pack(output, ids, out)
        write()
    print(json.dumps(report, indent=2))


def finish(args: argparse.Namespace) -> None:
    unpack(args.files, args.output, like=args.base, tokenizer=args.base / "tokenizer.json")
    print(f"{args.output}: a CrossEncoder folder; evaluate it with bench/rerank.py --skip-train --output {args.output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="here: pack the base, the mined table and the candidates")
    p.add_argument("--run", type=Path, required=True, help="a bench/train.py --work folder")
    p.add_argument("--name", default="e5-small", help="the model's name in that folder")
    p.add_argument("--base", type=Path, required=True, help="the model folder the reranker starts from")
    p.add_argument("--data", type=Path, default=HERE / "data" / "law_qa")
    p.add_argument("--train", type=int, default=3000, help="the --train the run used")
    p.add_argument("--mined", type=int, default=3, help="hard negatives per pair the run mined")
    p.add_argument("--relative-margin", type=float, default=0.02, help="the margin the run mined with")
    p.add_argument("--table", type=Path, default=None,
                   help="the model folder whose mined table to train on (default: the run's trained model; "
                        "e.g. the first round's, mined by the base, for a second round's collection)")  # fmt: skip
    p.add_argument("--pack", type=Path, default=Path(".gpu_rerank"))
    t = sub.add_parser("train", help="on the device: train, score, pick by dev, pack the picked model")
    t.add_argument("--pack", type=Path, default=Path(".gpu_rerank"))
    t.add_argument("--start", default="base",
                   help="the packed model in --pack to start from: base, or a reranker packed there earlier "
                        "(train's own $OUT files), which is scored first and trained on further")  # fmt: skip
    t.add_argument("--runs", nargs="+", default=["3:128:2", "2:256:2"],
                   help="EPOCHS:TOKENS:NEGATIVES per run, TOKENS per text (a pair: twice), NEGATIVES the hard "
                        "ones per pair (one random other positive is always added); in this order")  # fmt: skip
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--learning-rate", type=float, default=5e-5)
    t.add_argument("--work", default="/tmp/rerank-work")
    t.add_argument("--out", required=True)
    t.add_argument("--deadline-s", type=float, default=480, help="start no run that would end after this")
    t.add_argument("--smoke", type=int, default=0, help="only this many queries per split (4x as many pairs)")
    f = sub.add_parser("finish", help="here: the returned weights into the full base")
    f.add_argument("--files", type=Path, required=True, help="the folder the device's files came back to")
    f.add_argument("--base", type=Path, required=True)
    f.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    {"prepare": prepare, "train": train, "finish": finish}[args.command](args)


if __name__ == "__main__":
    main()
