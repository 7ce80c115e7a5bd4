"""Deprecated home of ``legalrag collections``; it lives in :mod:`legalrag.cli.collections` now."""

from __future__ import annotations

from legalrag.cli.collections import collections_app

__all__ = ["collections_app"]
