"""Evaluation: metrics with sentence-transformers definitions, dataset loaders, harness, reports."""
