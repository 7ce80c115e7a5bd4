"""The GPU check: throughput and MFU, end-to-end ingest, OOM back-off and training on a GPU."""
