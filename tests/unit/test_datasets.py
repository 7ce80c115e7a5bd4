"""Dataset loaders: one tiny fixture per layout, and the error each kind of malformed input gives."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from legalrag.eval.datasets import (
    CorpusDoc,
    EvalDataset,
    detect_format,
    load_beir,
    load_dataset,
    load_pairs,
    load_zalo,
)
from legalrag.plugin.errors import DatasetError, InputError, MissingExtraError

ZALO = Path(__file__).resolve().parents[1] / "fixtures" / "zalo_tiny"


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _pid(text: str) -> str:
    return "p-" + hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- BEIR
@pytest.fixture
def beir(tmp_path: Path) -> Path:
    root = tmp_path / "scifact_tiny"
    _jsonl(
        root / "corpus.jsonl",
        [
            {"_id": "d1", "title": "Điều 1", "text": "Phạm vi điều chỉnh"},
            {"_id": "d2", "title": "", "text": "제1조(목적) 이 법은"},
            {"_id": 3, "text": "numeric id, no title"},
        ],
    )
    _jsonl(
        root / "queries.jsonl",
        [
            {"_id": "q1", "text": "phạm vi?"},
            {"_id": "q2", "text": "목적?"},
            {"_id": "q3", "text": "unjudged"},
        ],
    )
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\t3\t0\n")
    (root / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td1\t1\n")
    return root


def test_beir_loads_and_drops_unjudged_queries(beir: Path) -> None:
    ds = load_beir(beir)
    assert ds.name == "scifact_tiny"
    assert ds.corpus["d1"] == CorpusDoc("Điều 1", "Phạm vi điều chỉnh")
    assert ds.corpus["3"] == CorpusDoc("", "numeric id, no title")
    assert ds.queries == {"q1": "phạm vi?", "q2": "목적?"}
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "3": 0}}
    assert ds.dropped_queries == 1


def test_beir_dev_split_and_detection(beir: Path) -> None:
    ds = load_dataset(beir, split="dev")
    assert detect_format(beir) == "beir"
    assert ds.qrels == {"q3": {"d1": 1}}
    assert ds.dropped_queries == 2


def test_beir_missing_file(beir: Path) -> None:
    (beir / "queries.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"queries\.jsonl: file not found"):
        load_beir(beir)


def test_beir_missing_split_lists_available(beir: Path) -> None:
    with pytest.raises(DatasetError, match=r"train\.tsv: file not found; available splits: \['dev', 'te"):
        load_beir(beir, split="train")


def test_beir_bad_json_line_reports_line_number(beir: Path) -> None:
    with (beir / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"_id": "d4", "text": "ok"}\n{"_id": "d5", "text": \n')
    with pytest.raises(DatasetError, match=r"corpus\.jsonl:5: invalid JSON"):
        load_beir(beir)


def test_beir_missing_key_names_key_and_line(beir: Path) -> None:
    _jsonl(beir / "queries.jsonl", [{"_id": "q1", "text": "x"}, {"_id": "q2", "body": "y"}])
    with pytest.raises(DatasetError, match=r"queries\.jsonl:2: none of the keys \['text'"):
        load_beir(beir)


def test_beir_unknown_corpus_id_in_qrels(beir: Path) -> None:
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td99\t1\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:3: doc id 'd99' is not in the corpus"):
        load_beir(beir)


def test_beir_unknown_query_id_in_qrels(beir: Path) -> None:
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td1\t1\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:2: query id 'q9'"):
        load_beir(beir)


def test_beir_bad_header(beir: Path) -> None:
    (beir / "qrels" / "test.tsv").write_text("qid\tdocid\trel\nq1\td1\t1\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:1: expected header 'query-id<TAB>corpus-id<TAB>sc"):
        load_beir(beir)


def test_beir_bad_score_and_field_count(beir: Path) -> None:
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\tyes\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:2: score 'yes' is not a number"):
        load_beir(beir)
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1 d1 1\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:2: expected 3 tab-separated fields, got 1"):
        load_beir(beir)


def test_beir_duplicate_id(beir: Path) -> None:
    _jsonl(beir / "corpus.jsonl", [{"_id": "d1", "text": "a"}, {"_id": "d1", "text": "b"}])
    with pytest.raises(DatasetError, match=r"corpus\.jsonl:2: duplicate doc id 'd1'"):
        load_beir(beir)


# -------------------------------------------------------------------------------------------- pairs
def test_pairs_jsonl_merges_duplicate_questions(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    _jsonl(
        path,
        [
            {"anchor": "Tuổi thành niên?", "positive": "Người thành niên là người từ đủ 18 tuổi."},
            {"anchor": "Thời hiệu khởi kiện?", "positive": "Thời hiệu là 03 năm."},
            {"anchor": "Tuổi thành niên?", "positive": "Đủ mười tám tuổi."},
            {"anchor": "Thời hạn?", "positive": "Thời hiệu là 03 năm."},  # shared passage
        ],
    )
    ds = load_dataset(path)
    assert ds.name == "train"
    assert len(ds.queries) == 3
    assert len(ds.corpus) == 3
    qid = next(q for q, text in ds.queries.items() if text == "Tuổi thành niên?")
    assert set(ds.qrels[qid]) == {_pid("Người thành niên là người từ đủ 18 tuổi."), _pid("Đủ mười tám tuổi.")}
    assert load_pairs(path).corpus == ds.corpus  # ids are stable across loads


def test_pairs_csv_and_custom_columns(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    csv_text = 'query,passage\n"What, exactly?","Article 1, paragraph 2"\nWhy?,Because\n'
    path.write_text(csv_text, encoding="utf-8")
    ds = load_pairs(path)
    assert sorted(ds.queries.values()) == ["What, exactly?", "Why?"]
    assert _pid("Article 1, paragraph 2") in ds.corpus
    custom = tmp_path / "custom.jsonl"
    _jsonl(custom, [{"q": "a?", "ctx": ["p1", "p2"]}])
    ds = load_pairs(custom, columns=("q", "ctx"))
    assert set(next(iter(ds.qrels.values()))) == {_pid("p1"), _pid("p2")}


def test_pairs_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    _jsonl(path, [{"prompt": "a", "completion": "b"}])
    with pytest.raises(DatasetError, match=r"pairs\.jsonl:1: no question/passage columns.*pass columns="):
        load_pairs(path)


def test_pairs_empty_value_names_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("question,answer\nq1,a1\nq2,\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"pairs\.csv:3: empty 'question' or 'answer'"):
        load_pairs(path)


# --------------------------------------------------------------------------------------------- Zalo
def test_zalo_fixture() -> None:
    ds = load_dataset(ZALO)
    assert detect_format(ZALO) == "zalo"
    assert ds.name == "zalo_tiny"
    assert len(ds.corpus) == 5
    assert ds.corpus["91/2015/qh13#20"].title == "Điều 20. Người thành niên"
    assert ds.qrels["train_qna_0"] == {"91/2015/qh13#20": 1}
    assert ds.qrels["train_qna_2"] == {"100/2019/nđ-cp#5": 1, "100/2019/nđ-cp#6": 1}
    assert ds.queries["train_qna_1"].startswith("Thời hiệu")


@pytest.fixture
def zalo_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ZALO, tmp_path / "zalo"))


def test_zalo_unknown_article(zalo_copy: Path) -> None:
    path = zalo_copy / "train_question_answer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["items"][1]["relevant_articles"].append({"law_id": "91/2015/qh13", "article_id": "999"})
    data["items"].append({"question_id": "train_qna_9", "question": "không có đáp án"})
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"items\[1\]\.relevant_articles\[1\]: doc id '91/2015/qh13#999'"):
        load_zalo(zalo_copy)


def test_zalo_drops_questions_without_articles(zalo_copy: Path) -> None:
    path = zalo_copy / "train_question_answer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    unanswered = {"question_id": "train_qna_9", "question": "không có đáp án", "relevant_articles": []}
    data["items"].append(unanswered)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ds = load_zalo(zalo_copy)
    assert ds.dropped_queries == 1
    assert "train_qna_9" not in ds.queries


def test_zalo_bad_json_and_missing_split(zalo_copy: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"no questions for split 'test' \(test_question_answer\.json or test\.json\)"
    ):
        load_zalo(zalo_copy, split="test")
    corpus = zalo_copy / "legal_corpus.json"
    corpus.write_text(corpus.read_text(encoding="utf-8").replace('"text": "1. Người', '"text" "1. Người'))
    with pytest.raises(DatasetError, match=r"legal_corpus\.json:13: invalid JSON"):
        load_zalo(zalo_copy)


def test_zalo_malformed_article(zalo_copy: Path) -> None:
    corpus = zalo_copy / "legal_corpus.json"
    laws = json.loads(corpus.read_text(encoding="utf-8"))
    del laws[1]["articles"][0]["text"]
    corpus.write_text(json.dumps(laws, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"law \[1\] \(100/2019/nđ-cp\) article \[0\]: missing key 'text'"):
        load_zalo(zalo_copy)


def _as_alqac(zalo: Path, target: Path) -> Path:
    """The fixture respelled as ALQAC releases it: law.json with ``id`` keys, ``<split>.json`` lists with ``text``."""
    target.mkdir()
    laws = json.loads((zalo / "legal_corpus.json").read_text(encoding="utf-8"))
    respelled = [
        {"id": law["law_id"], "articles": [{"id": a["article_id"], "text": a["text"]} for a in law["articles"]]}
        for law in laws
    ]
    (target / "law.json").write_text(json.dumps(respelled, ensure_ascii=False), encoding="utf-8")
    items = json.loads((zalo / "train_question_answer.json").read_text(encoding="utf-8"))["items"]
    questions = [
        {"question_id": q["question_id"], "question_type": "Free form", "text": q["question"],
         "relevant_articles": q["relevant_articles"]}
        for q in items
    ]  # fmt: skip
    (target / "train.json").write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    return target


def test_alqac_spelling_loads_the_same_dataset(tmp_path: Path) -> None:
    alqac = _as_alqac(ZALO, tmp_path / "alqac")
    assert detect_format(alqac) == "zalo"
    zalo, respelled = load_dataset(ZALO), load_dataset(alqac)
    assert respelled.queries == zalo.queries and respelled.qrels == zalo.qrels
    assert {k: d.text for k, d in respelled.corpus.items()} == {k: d.text for k, d in zalo.corpus.items()}


def test_alqac_bad_files_say_what_is_missing(tmp_path: Path) -> None:
    alqac = _as_alqac(ZALO, tmp_path / "alqac")
    questions = json.loads((alqac / "train.json").read_text(encoding="utf-8"))
    del questions[1]["text"]
    (alqac / "train.json").write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"train\.json: items\[1\]: missing 'question' or 'text'"):
        load_zalo(alqac)
    with pytest.raises(
        DatasetError, match=r"no questions for split 'public_test'.*question files here: \['train\.json'\]"
    ):
        load_zalo(alqac, split="public_test")
    laws = json.loads((alqac / "law.json").read_text(encoding="utf-8"))
    del laws[0]["id"]
    (alqac / "law.json").write_text(json.dumps(laws, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"law\.json: law \[0\]: missing 'law_id' or 'id'"):
        load_zalo(alqac)


# ------------------------------------------------------------------------------------------ parquet
def _parquet(path: Path, rows: list[dict]) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def test_autorag(tmp_path: Path) -> None:
    root = tmp_path / "autorag"
    _parquet(
        root / "corpus.parquet",
        [
            {"doc_id": "a", "contents": "Điều 1 ...", "metadata": {"title": "Luật A", "page": 1}},
            {"doc_id": "b", "contents": "Điều 2 ...", "metadata": {"title": "", "page": 2}},
            {"doc_id": "c", "contents": "Điều 3 ...", "metadata": {"title": "", "page": 3}},
        ],
    )
    _parquet(
        root / "qa.parquet",
        [
            {"qid": "q1", "query": "điều 1?", "retrieval_gt": [["a"], ["b", "c"]], "generation_gt": ["x"]},
            {"qid": "q2", "query": "không có", "retrieval_gt": [], "generation_gt": ["y"]},
        ],
    )
    ds = load_dataset(root)
    assert detect_format(root) == "autorag"
    assert ds.corpus["a"] == CorpusDoc("Luật A", "Điều 1 ...")
    assert ds.qrels == {"q1": {"a": 1, "b": 1, "c": 1}}
    assert ds.dropped_queries == 1
    _parquet(root / "qa.parquet", [{"qid": "q1", "query": "?", "retrieval_gt": [["zz"]]}])
    with pytest.raises(DatasetError, match=r"qa\.parquet: row 0: doc id 'zz' is not in the corpus"):
        load_dataset(root)


def test_autorag_files_are_found_by_their_columns(tmp_path: Path) -> None:
    # the names of AutoRAG's own Korean embedding benchmark: versions and prefixes in them
    root = tmp_path / "project"
    _parquet(root / "ocr_corpus_v3.parquet", [{"doc_id": "a", "contents": "제1조", "metadata": {"page": 1}}])
    _parquet(root / "qa_v4.parquet", [{"qid": "q1", "query": "?", "retrieval_gt": [["a"]], "generation_gt": ["x"]}])
    _parquet(root / "summary.parquet", [{"module_name": "vectordb", "retrieval_f1": 0.3}])
    assert detect_format(root) == "autorag"
    ds = load_dataset(root)
    assert ds.qrels == {"q1": {"a": 1}} and ds.ground_truth == {"q1": [["a"]]}
    assert ds.sources == {"corpus": str(root / "ocr_corpus_v3.parquet"), "queries": str(root / "qa_v4.parquet")}
    # two QA candidates, neither named qa.parquet: refused, naming both and the flag that settles it
    _parquet(root / "qa_v5.parquet", [{"qid": "q1", "query": "?", "retrieval_gt": [["a"]]}])
    with pytest.raises(DatasetError, match=r"several .*AutoRAG qa \(qa_v4\.parquet, qa_v5\.parquet\).*queries_file"):
        load_dataset(root)
    ds = load_dataset(root, queries_file=root / "qa_v5.parquet")
    assert ds.sources is not None and ds.sources["queries"].endswith("qa_v5.parquet")
    with pytest.raises(InputError, match="apply to the 'autorag' format"):
        load_dataset(root, format="beir", queries_file=root / "qa_v5.parquet")


def test_autorag_keeps_and_or_groups(tmp_path: Path) -> None:
    root = tmp_path / "autorag"
    _parquet(root / "corpus.parquet", [{"doc_id": d, "contents": d} for d in "abc"])
    _parquet(root / "qa.parquet", [{"qid": "q", "query": "?", "retrieval_gt": [["a", "b"], ["c"]]}])
    assert load_dataset(root).ground_truth == {"q": [["a", "b"], ["c"]]}


def test_mteb_split_dirs_and_int_ids(tmp_path: Path) -> None:
    root = tmp_path / "mteb_tiny"
    _parquet(root / "corpus" / "test-00000-of-00001.parquet", [{"_id": 1, "title": "T", "text": "x"}])
    _parquet(root / "queries" / "test-00000-of-00001.parquet", [{"_id": "q1", "text": "x?"}])
    _parquet(root / "qrels" / "test-00000-of-00001.parquet", [{"query-id": "q1", "corpus-id": 1, "score": 1}])
    _parquet(root / "qrels" / "train-00000-of-00001.parquet", [{"query-id": "q9", "corpus-id": 1}])
    ds = load_dataset(root)
    assert detect_format(root) == "mteb"
    assert ds.corpus == {"1": CorpusDoc("T", "x")}
    assert ds.qrels == {"q1": {"1": 1}}
    with pytest.raises(DatasetError, match=r"train-00000-of-00001\.parquet: row 0: query id 'q9'"):
        load_dataset(root, split="train")
    with pytest.raises(DatasetError, match=r"no qrels \(dev\) parquet files"):
        load_dataset(root, split="dev")


def test_mteb_hf_parquet_conversion_layout(tmp_path: Path) -> None:
    root = tmp_path / "converted"
    _parquet(root / "corpus" / "corpus" / "0000.parquet", [{"id": "d", "contents": "text"}])
    _parquet(root / "queries" / "queries" / "0000.parquet", [{"id": "q", "query": "?"}])
    _parquet(root / "default" / "test" / "0000.parquet", [{"query_id": "q", "corpus_id": "d"}])
    ds = load_dataset(root, format="mteb")
    assert ds.qrels == {"q": {"d": 1}}


def test_missing_pyarrow_names_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "autorag"
    root.mkdir()
    (root / "corpus.parquet").write_bytes(b"")
    (root / "qa.parquet").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingExtraError, match=r"legalrag\[eval\]"):
        load_dataset(root)


def test_unreadable_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    root = tmp_path / "autorag"
    root.mkdir()
    (root / "corpus.parquet").write_bytes(b"not parquet")
    (root / "qa.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match=r"corpus\.parquet: unreadable parquet"):
        load_dataset(root)


# ------------------------------------------------------------------------------------- load_dataset
def test_load_dataset_argument_errors(tmp_path: Path, beir: Path) -> None:
    with pytest.raises(InputError, match="unknown dataset format"):
        load_dataset(beir, format="msmarco")
    with pytest.raises(InputError, match="columns="):
        load_dataset(beir, columns=("a", "b"))
    pairs = tmp_path / "p.jsonl"
    _jsonl(pairs, [{"query": "q", "passage": "p"}])
    with pytest.raises(InputError, match="no splits"):
        load_dataset(pairs, split="dev")
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="unknown layout"):
        load_dataset(tmp_path / "empty")


def test_eval_dataset_checks_ids() -> None:
    with pytest.raises(DatasetError, match="unknown doc 'd2'"):
        EvalDataset("x", {"d1": CorpusDoc("", "t")}, {"q1": "?"}, {"q1": {"d2": 1}})
    with pytest.raises(DatasetError, match="no query text"):
        EvalDataset("x", {"d1": CorpusDoc("", "t")}, {}, {"q1": {"d1": 1}})


def test_malformed_text_datasets_are_dataset_errors_not_tracebacks(tmp_path: Path) -> None:
    from legalrag.plugin.errors import DatasetError

    long_field = tmp_path / "long.csv"
    long_field.write_text("query,passage\nq1," + "가" * 200_000 + "\n", encoding="utf-8")
    assert len(load_dataset(long_field, "pairs").corpus) == 1  # a statute over csv's 128 KiB default loads
    unclosed = tmp_path / "bad.csv"
    unclosed.write_text('query,passage\nq1,"' + "x" * (17 << 20) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="not readable as CSV"):
        load_dataset(unclosed, "pairs")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("query,passage\nq1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_dataset(latin, "pairs")
