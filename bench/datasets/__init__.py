"""Benchmark data sets built from public packages (card-legal-data): Korean regulator Q&A."""
