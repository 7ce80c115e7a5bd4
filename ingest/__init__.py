"""Loading, statute-aware chunking and the ingest pipeline."""
