"""Quality benchmarks: the default search, runtimes' retrieval quality, fine-tuning and reranking."""
