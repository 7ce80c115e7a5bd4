"""One oneDNN kernel for each transformer layer's feed-forward ``Linear`` + GELU, for bf16 weights on a CPU.

In a BERT-family layer (BERT, RoBERTa, XLM-R: MiniLM, E5, BGE-M3) the intermediate projection's output,
4x the hidden size, goes through an exact GELU as a separate operator. With bf16 weights on a CPU with
AMX the matrix product is cheap and the GELU pass over its output is not (a profile of the encoder
shows it as a large share of the CPU time). oneDNN can apply the GELU inside the product (the kernel
PyTorch's own compiler emits for this pattern, ``torch.ops.mkldnn._linear_pointwise``), with
embeddings within bf16 rounding of the unfused ones; the gain is on the ingest benchmark's page
(docs/benchmarks/ingest.md).

:func:`fuse_feed_forward` swaps the ``forward`` of the modules that hold the pattern (a ``dense``
``nn.Linear`` with bf16 CPU weights and an exact or tanh GELU as ``intermediate_act_fn``, transformers'
naming) for the fused call. A module left alone keeps its own forward; a call that needs gradients
takes the original path, so a fused model still trains. Nothing is fused when the kernel is missing or
disagrees with the plain operators on a probe input (a CPU without bf16 support in oneDNN).
"""

from __future__ import annotations

import logging
import types
from typing import Any

__all__ = ["fuse_feed_forward"]

log = logging.getLogger(__name__)


def fuse_feed_forward(model: Any) -> int:
    """Fuse every feed-forward ``Linear`` + GELU of ``model`` (bf16 weights on a CPU); returns how many."""
    import torch

    if not _kernel_available(torch):
        return 0
    candidates = [(module, algorithm) for module in model.modules() if (algorithm := _gelu_pattern(module, torch))]
    if not candidates or not _agrees(*candidates[0], torch):
        return 0
    for module, algorithm in candidates:
        module.forward = types.MethodType(_fused_forward(algorithm), module)
        module._legalrag_fused = algorithm  # marks the swap (tests; a second call skips it)
    return len(candidates)


def _kernel_available(torch: Any) -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


def _gelu_pattern(module: Any, torch: Any) -> str | None:
    """oneDNN's GELU algorithm (``none``: exact, ``tanh``) if ``module`` is ``dense`` then a GELU, else None."""
    if getattr(module, "_legalrag_fused", None):
        return None
    dense = getattr(module, "dense", None)
    act = getattr(module, "intermediate_act_fn", None)
    if not isinstance(dense, torch.nn.Linear) or act is None:
        return None
    if dense.weight.dtype != torch.bfloat16 or dense.weight.device.type != "cpu":
        return None
    if isinstance(act, torch.nn.GELU):
        return str(act.approximate)
    # transformers' GELUActivation (ACT2FN["gelu"]) wraps torch's exact GELU as ``act``
    if type(act).__name__ == "GELUActivation" and getattr(act, "act", None) is torch.nn.functional.gelu:
        return "none"
    return None


def _fused_forward(algorithm: str) -> Any:
    def forward(self: Any, hidden_states: Any) -> Any:
        import torch

        dense = self.dense
        if torch.is_grad_enabled() and (hidden_states.requires_grad or dense.weight.requires_grad):
            return type(self).forward(self, hidden_states)  # training: the operators autograd knows
        return torch.ops.mkldnn._linear_pointwise(
            hidden_states.contiguous(), dense.weight, dense.bias, "gelu", [], algorithm
        )

    return forward


def _agrees(module: Any, algorithm: str, torch: Any) -> bool:
    """Whether the fused kernel runs here and matches the module's own forward on a probe input."""
    dense = module.dense
    probe = torch.randn(2, 16, dense.in_features, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    try:
        with torch.inference_mode():
            expected = type(module).forward(module, probe).float()
            fused = _fused_forward(algorithm)(module, probe).float()
    except (RuntimeError, NotImplementedError, TypeError) as exc:
        log.debug("fused Linear+GELU unavailable: %s", exc)
        return False
    # bf16 keeps 8 significant bits: allow a few units in the last place of the largest output
    scale = float(expected.abs().max()) or 1.0
    agrees = bool(fused.shape == expected.shape and float((fused - expected).abs().max()) <= scale * 2**-6)
    if not agrees:
        log.debug("fused Linear+GELU disagrees with the plain operators: left unfused")
    return agrees
