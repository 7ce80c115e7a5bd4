"""bench/rerank_device.py moves a model to the GPU machine as its used embedding rows plus the rest in bf16:
the round trip keeps every row it did not carry, and training never touches the rows it left out."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[2]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rerank_device", ROOT / "bench" / "rerank_device.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("rerank_device", module)
    spec.loader.exec_module(module)
    return module


def _tiny(folder: Path) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=300, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=1)  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    (folder / "tokenizer.json").write_text("{}")  # a stand-in: the round trip copies it, nothing reads it
    return folder


def test_a_packed_model_comes_back_whole(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    rd = _module()
    model = _tiny(tmp_path / "model")
    ids = [0, 1, 2, 5, 17, 299]
    info = rd.pack(model, ids, tmp_path / "pack")
    assert info["rows"] == len(ids) and info["vocab"] == 300
    assert all(p.stat().st_size <= rd.PIECE for p in (tmp_path / "pack").glob("weights.*"))
    rd.unpack(tmp_path / "pack", tmp_path / "back", like=model, tokenizer=model / "tokenizer.json")
    rd.unpack(tmp_path / "pack", tmp_path / "bare", tokenizer=model / "tokenizer.json")
    original, back, bare = (
        load_file(str(p / "model.safetensors")) for p in (model, tmp_path / "back", tmp_path / "bare")
    )
    assert set(back) == set(original) and (tmp_path / "back" / "config.json").is_file()
    key = next(k for k in original if k.endswith("word_embeddings.weight"))
    unused = [i for i in range(300) if i not in ids]
    assert torch.equal(back[key][unused], original[key][unused])  # rows not carried: the original's
    assert torch.count_nonzero(bare[key][unused]) == 0  # without the original: zeros
    rounded = original[key][ids].to(torch.bfloat16).float()
    assert torch.equal(back[key][ids], rounded) and torch.equal(bare[key][ids], rounded)
    for name, tensor in original.items():
        if name != key:
            assert torch.equal(back[name], tensor.to(torch.bfloat16).float()), name


def test_rows_no_input_uses_are_never_changed_by_training(tmp_path: Path) -> None:
    """Why the pack may leave rows out: with no weight decay, AdamW leaves a row no input reads as it was,
    so a model with those rows zeroed trains to the same weights everywhere else."""
    from transformers import BertForSequenceClassification

    model = _tiny(tmp_path / "model")
    ids = torch.tensor([[0, 5, 17, 2, 1], [0, 17, 5, 5, 2]])
    labels = torch.tensor([[1.0], [0.0]])
    full = BertForSequenceClassification.from_pretrained(str(model))
    zeroed = BertForSequenceClassification.from_pretrained(str(model))
    used = torch.zeros(300, dtype=torch.bool)
    used[ids.unique()] = True
    with torch.no_grad():
        zeroed.bert.embeddings.word_embeddings.weight[~used] = 0.0
    for net in (full, zeroed):
        net.config.problem_type = "regression"
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.0)
        for _ in range(3):
            optimizer.zero_grad()
            net(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
    before = BertForSequenceClassification.from_pretrained(str(model)).bert.embeddings.word_embeddings.weight
    after_full = full.bert.embeddings.word_embeddings.weight
    assert torch.equal(after_full[~used], before[~used])  # untouched by training
    assert not torch.equal(after_full[used], before[used])  # the rows read did train
    full_state, zeroed_state = full.state_dict(), zeroed.state_dict()
    for name, tensor in full_state.items():
        if name.endswith("word_embeddings.weight"):
            assert torch.allclose(zeroed_state[name][used], tensor[used], atol=1e-6)
        else:
            assert torch.allclose(zeroed_state[name], tensor, atol=1e-6), name
