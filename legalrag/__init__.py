"""legalrag: Qdrant retrieval for legal and financial documents in any language."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
