"""Deprecated home of ``legalrag eval``'s command; it lives in :mod:`legalrag.cli.eval` now.

The library call is :func:`legalrag.eval.evaluate_collection`.
"""

from __future__ import annotations

from legalrag.cli.eval import eval_command

__all__ = ["eval_command"]
