"""LangChain-facing retrieval: settings, embeddings, sparse BM25, stores, retriever."""
