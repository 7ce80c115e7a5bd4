"""CPU runtimes for a sentence-transformers model: ONNX Runtime (fp32 or int8) and OpenVINO.

sentence-transformers' own ``backend="onnx"`` / ``"openvino"`` go through optimum-onnx and
optimum-intel, which pin ``transformers<4.58`` / ``<5.6`` (and torchvision) while
sentence-transformers 6 needs ``transformers>=5``: installing them breaks the install. legalrag
therefore exports the model's transformer once with ``torch.onnx.export``, caches the file, and
runs it with onnxruntime or OpenVINO. Only the transformer's forward pass is replaced: the
model's own tokenizer, prompts, pooling and normalisation still run, so embeddings match the
PyTorch model (fp32: cosine > 0.99999; see tests/unit/test_runtime.py).

int8 is onnxruntime's dynamic quantization of the MatMul weights, per output channel. Whether
quality holds depends on the model: ``bench.speed.embed`` prints the cosine to fp32 and the
retrieval metrics of each backend so the choice is made on numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from legalrag.plugin.errors import InputError, ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["RUNTIMES", "attach_runtime", "default_cache", "export_onnx"]

log = logging.getLogger(__name__)

RUNTIMES = ("onnx", "openvino")
_EXTRAS = {"onnx": "onnx", "openvino": "openvino"}
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def default_cache() -> Path:
    """Where exported models live: ``$LEGALRAG_CACHE``, else ``$XDG_CACHE_HOME/legalrag``, else ``~/.cache``."""
    if os.environ.get("LEGALRAG_CACHE"):
        return Path(os.environ["LEGALRAG_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "legalrag"


def _transformer(model: SentenceTransformer) -> Any:
    first = model[0]
    hf = getattr(first, "auto_model", None) or getattr(first, "model", None)
    if hf is None or not hasattr(hf, "config"):
        raise ModelLoadError(f"cannot export {type(first).__name__}: only Transformer-based models run on ONNX")
    return hf


def _input_names(hf: Any, tokenizer: Any) -> list[str]:
    import inspect

    params = set(inspect.signature(hf.forward).parameters)
    sample = tokenizer(["probe"], return_tensors="np")
    return [name for name in _INPUTS if name in sample and name in params]


def _cache_key(model: SentenceTransformer, source: str, quantize: str) -> str:
    import torch

    hf = _transformer(model)
    facts: dict[str, Any] = {"source": source, "quantize": quantize, "torch": torch.__version__}
    folder = Path(source)
    if folder.is_dir():  # a changed checkpoint must never reuse an old export
        facts["files"] = sorted(
            (p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in folder.rglob("*") if p.is_file()
        )
    else:
        facts["config"] = hf.config.to_json_string()
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:20]


def export_onnx(model: SentenceTransformer, target: Path) -> Path:
    """Export the model's transformer (token embeddings out) to ``target`` with dynamic batch and length."""
    import torch

    hf = _transformer(model).eval()
    names = _input_names(hf, model.tokenizer)
    sample = model.tokenizer(["legalrag export", "제1조(목적)"], return_tensors="pt", padding=True)

    class _Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = hf

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args, strict=True)), return_dict=True)["last_hidden_state"]

    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "token_embeddings"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about constant shapes; parity is tested instead
        torch.onnx.export(
            _Wrapped(),
            tuple(sample[name] for name in names),
            str(partial),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    partial.replace(target)  # a crash mid-export never leaves a truncated model.onnx behind
    return target


def _quantized(fp32: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = fp32.with_name("model.int8.onnx")
    if not target.exists():
        partial = target.with_suffix(".partial")
        chatter = _DropMessage("Please consider to run pre-processing before quantization")
        logging.getLogger().addFilter(chatter)  # onnxruntime logs it on the root logger, for every model
        try:
            quantize_dynamic(
                str(fp32), str(partial), op_types_to_quantize=["MatMul"], per_channel=True, weight_type=QuantType.QInt8
            )
        finally:
            logging.getLogger().removeFilter(chatter)
        partial.replace(target)
    return target


class _DropMessage(logging.Filter):
    """Drops log records that start with ``prefix`` (advice addressed to onnxruntime's own users)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def _session(runtime: str, path: Path, precision: str) -> Any:
    """A callable ``feeds -> token embeddings`` over onnxruntime or OpenVINO."""
    if runtime == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda feeds: session.run(["token_embeddings"], feeds)[0]
    import openvino as ov

    hint = "bf16" if precision == "bf16" else "f32"
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": hint})
    request = compiled.create_infer_request()
    return lambda feeds: np.array(request.infer(feeds)[0])


def attach_runtime(
    model: SentenceTransformer,
    runtime: str,
    *,
    source: str,
    cache: Path | None = None,
    quantize: str = "none",
    precision: str = "fp32",
    timings: dict[str, float] | None = None,
) -> Path:
    """Run ``model``'s transformer on ``runtime`` from now on; returns the ONNX file used.

    ``timings`` (when given) gets ``export`` seconds when this call exported the model (not when the
    cache already held it).

    The export is cached under ``cache`` (default :func:`default_cache`) keyed by the checkpoint's
    files, so it happens once per model. ``quantize="int8"`` needs the ``onnx`` runtime;
    ``precision="bf16"`` asks OpenVINO for bf16 inference (native on AVX512-BF16/AMX CPUs).
    """
    if runtime not in RUNTIMES:
        raise InputError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    if quantize not in ("none", "int8"):
        raise InputError(f"quantize {quantize!r} is not one of none, int8")
    if quantize == "int8" and runtime != "onnx":
        raise InputError("int8 quantization runs on the onnx backend: use backend='onnx' with quantize='int8'")
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)

        if runtime == "onnx":
            import onnxruntime  # noqa: F401
        else:
            import openvino  # noqa: F401
    except ImportError as exc:
        raise ModelLoadError(
            f"backend {runtime!r} needs {exc.name}: pip install 'legalrag[{_EXTRAS[runtime]}]'"
        ) from exc
    import torch

    hf = _transformer(model)
    if any(param.numel() == 0 for param in hf.parameters()):
        raise ModelLoadError("this model already runs on an ONNX runtime (its PyTorch weights were freed)")
    folder = (cache or default_cache()) / "onnx" / _cache_key(model, source, "none")
    path = folder / "model.onnx"
    if not path.exists():
        log.info("exporting %s to ONNX at %s (once per model)", source, path)
        started = time.perf_counter()
        export_onnx(model, path)
        if timings is not None:
            timings["export"] = time.perf_counter() - started
    if quantize == "int8":
        path = _quantized(path)
    run = _session(runtime, path, precision)
    names = set(_input_names(hf, model.tokenizer))

    def forward(**kwargs: Any) -> dict[str, torch.Tensor]:
        feeds = {k: np.asarray(v.cpu().numpy(), dtype=np.int64) for k, v in kwargs.items() if k in names}
        return {"last_hidden_state": torch.from_numpy(np.ascontiguousarray(run(feeds), dtype=np.float32))}

    hf.forward = forward  # sentence-transformers' Transformer module calls model.forward(**features)
    for param in hf.parameters():  # the runtime holds its own copy: free PyTorch's (GBs for BGE-M3)
        param.data = torch.empty(0, dtype=param.dtype)
    return path
