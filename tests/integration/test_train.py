"""``legalrag train`` with a tiny random-weight model on CPU: it trains, the folder loads, the card holds the
before/after table, ``--resume`` continues, bad input writes nothing, leaks are removed, the reranker works,
and re-ingesting with the trained model leaves nothing stale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from tests.conftest import EXAMPLES
from tests.helpers.tiny_models import build_tiny_bge_m3

runner = CliRunner()
DATASET = EXAMPLES / "eval"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bge_m3(tmp_path_factory.mktemp("base"), hidden=64, max_seq_length=128)


def _train(base: Path, store: Path, output: Path, *extra: str, code: int = 0) -> dict[str, Any]:
    args = ["train", str(DATASET), "--model", str(base), "--output", str(output), "--qdrant-path", str(store),
            "--device", "cpu", "--batch-size", "4", "--mini-batch-size", "2", *extra, "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_a_tiny_model_trains_and_the_folder_is_a_model_with_its_card(base: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    report = _train(base, tmp_path / "q", tmp_path / "out", "--epochs", "8", "--learning-rate", "1e-3",
                    "--max-seq-length", "32", "--loss-scale", "50", "--relative-margin", "0.1")  # fmt: skip
    assert report["model"] == str(tmp_path / "out") and report["train_pairs"] >= 8
    assert report["loss_first"] is not None and report["loss_last"] < report["loss_first"]  # it learned something
    assert set(report["before"]) == set(report["after"]) >= {"dense", "sparse", "tuned"}
    assert "mrr@10" in report["before"]["dense"] and "cosine" not in json.dumps(report["before"])  # eval's keys
    assert any("too few to measure" in w for w in report["warnings"])  # the fixture's few held-out queries
    assert report["options"]["loss_scale"] == 50  # the TrainOptions the run was given
    model = SentenceTransformer(str(tmp_path / "out"), device="cpu")
    assert model.encode(["제1조(목적)"]).shape == (1, 64)
    assert model.max_seq_length == 128  # --max-seq-length 32 capped training only, not the chunk limit
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert report["hyperparameters"]["loss_scale"] == 50 and "loss_scale" in card
    assert report["negatives"]["relative_margin"] == 0.1 and "within 10% of the positive" in card
    assert "cosine_accuracy@1" in card and "cosine_map@100" in card and "| dense | before |" in card
    assert "| dense | after |" in card and "hard negatives" in card and "learning_rate" in card
    assert f"{report['negatives']['random_negatives']} random documents" in card and "hard_negatives.jsonl" in card


def test_resume_continues_from_the_last_checkpoint(base: Path, tmp_path: Path) -> None:
    first = _train(base, tmp_path / "q", tmp_path / "out", "--epochs", "2", "--save-steps", "2")
    assert list((tmp_path / "out" / "checkpoints").glob("checkpoint-*"))
    _train(base, tmp_path / "q", tmp_path / "out", "--epochs", "2", code=2)  # in use: refused without --resume
    mined = (tmp_path / "out" / "hard_negatives.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(mined) == first["train_pairs"] and "reused" not in first["negatives"]
    assert {"query", "positive", "negatives"} <= set(json.loads(mined[0]))
    again = _train(base, tmp_path / "q", tmp_path / "out", "--epochs", "4", "--save-steps", "2", "--resume")
    assert again["steps"] > first["steps"]
    assert again["negatives"]["reused"] is True and again["seconds"]["mine"] == 0.0  # trained on the saved table


def test_a_second_round_mines_through_the_first_rounds_collection(base: Path, tmp_path: Path) -> None:
    from legalrag.plugin.store import EdgeStore

    store = tmp_path / "q"
    first = _train(base, store, tmp_path / "one", "--epochs", "1")
    assert first["collection"] == "train-eval"  # the default; the trained model's copy is train-eval-trained
    with EdgeStore(store) as edge:
        info = edge.get_collection("train-eval-trained")
        assert info is not None and info.metadata["model"] == first["model"]
        points = info.points
    second = _train(Path(first["model"]), store, tmp_path / "two", "--epochs", "1", "-c", "train-eval-trained")
    assert second["collection"] == "train-eval-trained" and second["base"] == first["model"]
    assert "reused" not in second["negatives"]  # mined again, by the first round's model
    # the first round's collection was searched as it was (not re-ingested), so round 2 starts where round 1 ended
    assert second["before"]["dense"]["mrr@10"] == pytest.approx(first["after"]["dense"]["mrr@10"])
    with EdgeStore(store) as edge:
        kept, made = edge.get_collection("train-eval-trained"), edge.get_collection("train-eval-trained-trained")
        assert kept is not None and kept.points == points and kept.metadata["model"] == first["model"]
        assert made is not None and made.metadata["model"] == second["model"]


def test_bad_input_exits_2_and_writes_nothing(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    unrelated = tmp_path / "someone-elses-model"
    unrelated.mkdir()
    (unrelated / "README.md").write_text("their card", encoding="utf-8")
    (unrelated / "config.json").write_text("{}", encoding="utf-8")
    refused = _train(base, tmp_path / "q", unrelated, "--resume", code=2)["error"]
    assert "holds no earlier training run" in refused
    assert (unrelated / "README.md").read_text(encoding="utf-8") == "their card"  # untouched
    message = _train(base, tmp_path / "q", out, "--model", "use:multilingual", code=2)["error"]
    assert "not trainable" in message
    assert "no_such_split" in _train(base, tmp_path / "q", out, "--split", "no_such_split", code=2)["error"]
    scale = _train(base, tmp_path / "q", out, "--loss-scale", "0", code=2)["error"]
    assert "invalid TrainOptions: loss_scale: Input should be greater than 0" in scale
    assert (
        "relative_margin: Input should be less than 1"
        in _train(base, tmp_path / "q", out, "--relative-margin", "1", code=2)["error"]
    )
    missing = _train(base, tmp_path / "q", out, "--reranker-base", str(tmp_path / "nope" / "x"), code=2)["error"]
    assert "does not exist" in missing  # refused before the embedder trains, not after
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text("".join(json.dumps({"query": f"q{i}", "passage": f"p{i}"}) + "\n" for i in range(5)))
    args = [
        "train",
        str(tiny),
        "--model",
        str(base),
        "--output",
        str(out),
        "--qdrant-path",
        str(tmp_path / "q"),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "training needs at least" in json.loads(result.stdout)["error"]
    assert not out.exists() and not (tmp_path / "q").exists()


def test_leaked_queries_are_removed_from_training(tmp_path: Path) -> None:
    from legalrag.train.data import prepare_data

    rows = [{"query": f"질문 {i}: 신용카드 분실 책임은 누구에게 있는가 {i}", "passage": f"답변 {i}"} for i in range(40)]
    rows += [{"query": rows[i]["query"] + " ?", "passage": f"다른 답변 {i}"} for i in range(40)]  # near-duplicates
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    data = prepare_data(path, seed=1)
    held_out = {q for d in (data.dev, data.test) if d is not None for q in d.queries.values()}
    assert data.leaks > 0 and data.sizes()["leaks_removed"] == data.leaks
    for pair in data.pairs:
        assert all(pair.query.rstrip(" ?") != other.rstrip(" ?") for other in held_out)


def test_reranker_and_reingest_with_the_trained_model(base: Path, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    from legalrag.plugin.store import EdgeStore

    store = tmp_path / "q"
    reranker_base = build_tiny_bge_m3(tmp_path / "rerank-base", hidden=32, max_seq_length=64)
    report = _train(base, store, tmp_path / "out", "--epochs", "1", "--reranker-base", str(reranker_base),
                    "--max-seq-length", "24")  # fmt: skip
    assert json.loads((Path(report["reranker"]) / "config.json").read_text())["hidden_size"] == 32  # from that base
    assert CrossEncoder(report["reranker"], device="cpu").max_seq_length == 48  # a pair: a query and a passage
    assert report["reranker"] and CrossEncoder(report["reranker"], device="cpu").predict([("질문", "답")]).shape == (1,)
    assert [row for row in report["after"] if row.endswith("+rerank")] == ["tuned+rerank"]  # the one reported
    rows = runner.invoke(app, ["eval", str(DATASET), "-c", "ev", "--model", str(base), "--qdrant-path", str(store),
                               "--mode", "sparse", "--rerank", report["reranker"], "--json"])  # fmt: skip
    assert rows.exit_code == 0 and "sparse+rerank" in json.loads(rows.stdout)["results"]
    # the corpus, ingested with the base model, then again with the trained one: every point re-embedded
    corpus = EXAMPLES / "corpus"
    common = ["-c", "laws", "--qdrant-path", str(store), "--device", "cpu", "--json"]
    first = json.loads(runner.invoke(app, ["ingest", str(corpus), "--model", str(base), *common]).stdout)
    second = json.loads(runner.invoke(app, ["ingest", str(corpus), "--model", report["model"], *common]).stdout)
    assert second["updated"] == first["added"] and second["upserted"] == first["chunks"]
    with EdgeStore(store) as edge:
        info = edge.get_collection("laws")
        assert info is not None and info.points == first["chunks"] and info.metadata["model"] == report["model"]
        versions = {h.payload["version"] for h in edge.scroll("laws")}
    assert len(versions) == first["documents"]  # one version per document: nothing of the base model's left


@pytest.mark.parametrize("kind", ["embedder", "reranker"])
def test_training_arguments_use_this_transformers_names_without_warnings(kind: str, tmp_path: Path) -> None:
    import warnings

    from legalrag.train.fit import FitOptions, _arguments

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecated name or a CPU pin_memory request fails here
        options = FitOptions(warmup_ratio=0.25, gradient_checkpointing=True, precision="fp32")
        args = _arguments(kind, tmp_path, options, "cpu", None)
    assert args.get_warmup_steps(100) == 25
    assert args.dataloader_pin_memory is False


@pytest.mark.parametrize("loss", ["mnrl", "cached_mnrl", "matryoshka", "gist", "cached_gist"])
def test_the_ranking_loss_uses_the_given_scale(base: Path, loss: str) -> None:
    from sentence_transformers import SentenceTransformer

    from legalrag.train.fit import FitOptions, _loss

    built = _loss(SentenceTransformer(str(base), device="cpu"), FitOptions(loss=loss, loss_scale=50.0))  # type: ignore[arg-type]
    ranking = getattr(built, "loss", built)  # MatryoshkaLoss wraps the ranking loss
    assert getattr(ranking, "scale", None) == 50.0 or ranking.temperature == pytest.approx(1 / 50.0)


@pytest.mark.parametrize("loss", ["gist", "cached_gist"])
def test_gist_is_guided_by_a_frozen_copy_of_the_base_model(base: Path, loss: str) -> None:
    from sentence_transformers import SentenceTransformer

    from legalrag.train.fit import FitOptions, _loss

    model = SentenceTransformer(str(base), device="cpu")
    built = _loss(model, FitOptions(loss=loss))  # type: ignore[arg-type]
    assert built.guide is not model and not any(p.requires_grad for p in built.guide.parameters())
    text = ["제1조(목적) 이 법은"]
    assert (built.guide.encode(text) == model.encode(text)).all(), "the guide starts as the base model"


def test_a_gist_run_trains(base: Path, tmp_path: Path) -> None:
    report = _train(base, tmp_path / "q", tmp_path / "out", "--loss", "cached_gist", "--epochs", "8",
                    "--learning-rate", "1e-3", "--max-seq-length", "32", "--loss-scale", "50")  # fmt: skip
    assert report["hyperparameters"]["loss"] == "cached_gist"
    assert report["loss_first"] is not None and report["loss_last"] < report["loss_first"]
