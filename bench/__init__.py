"""legalrag's benchmarks: run each as ``python -m bench.<kind>.<name>`` from the repository root."""
