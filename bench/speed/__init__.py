"""Speed benchmarks: ingest, chunking, embedding, the embedded engine, query and serving latency."""
