"""What a reader of an embedded collection costs: its private folder's disk use and the time to open it.

A collection of ``--points`` random unit vectors (``--dim``, default 1024: BGE-M3's size) with a
statute-like payload is built and published once; then readers open it in turn (a fresh ``EdgeStore``,
its first ``count``), alternating the way a reader makes its folder: linking the published data pages
(legalrag's way) and copying every file (the baseline), ``--rounds`` times each. Reported: the disk
blocks the reader's folder adds (``du``), the open time (median), and the ratio of the two ways.

    python -m bench.speed.reader_copy                      # about 1.1 GB of vectors and payloads
    python -m bench.speed.reader_copy --points 20000       # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np


def _disk_bytes(folder: Path) -> int:
    """Bytes of disk the files under ``folder`` occupy, counting a file linked from elsewhere as 0."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            if stat.st_nlink == 1:
                total += stat.st_blocks * 512
    return total


def build(root: Path, points: int, dim: int) -> int:
    from legalrag.plugin.store import EdgeStore
    from legalrag.plugin.store.base import CollectionSpec, PointRecord

    rng = np.random.default_rng(0)
    with EdgeStore(root) as store:
        store.create_collection("big", CollectionSpec(dense_size=dim, sparse_name=None))
        for start in range(0, points, 2000):
            vectors = rng.standard_normal((min(2000, points - start), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            batch = [
                PointRecord(
                    id=str(uuid.UUID(int=start + i + 1)),
                    dense=vector.tolist(),
                    payload={
                        "doc_id": f"law-{(start + i) // 40}",
                        "article": f"제{(start + i) % 40 + 1}조",
                        "text": "제1조(목적) 이 법은 금융거래의 안전성과 신뢰성을 확보함을 목적으로 한다. " * 3,
                    },
                )
                for i, vector in enumerate(vectors)
            ]
            store.upsert("big", batch)
        store.optimize("big")
    return sum(p.stat().st_blocks * 512 for p in (root / "big" / "published").rglob("*") if p.is_file())


def open_reader(root: Path, link: bool) -> dict[str, float]:
    from legalrag.plugin.store import EdgeStore
    from legalrag.plugin.store.edge import versions

    original = versions.shareable
    if not link:
        versions.shareable = lambda name: False  # the baseline: a full copy
    try:
        started = time.perf_counter()
        store = EdgeStore(root)
        store.count("big")
        seconds = time.perf_counter() - started
        (copy,) = list((root / "big" / "readers").iterdir())
        disk = _disk_bytes(copy)
        store.close()
    finally:
        versions.shareable = original
    return {"seconds": seconds, "disk_bytes": disk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=250_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", type=Path, default=None, help="where to build (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="legalrag-readers-", dir=args.root) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        published = build(root, args.points, args.dim)
        print(
            f"built {args.points:,} points ({published / 2**20:,.0f} MiB published) in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        runs: dict[str, list[dict[str, float]]] = {"link": [], "copy": []}
        for _ in range(args.rounds):  # paired: one of each per round
            for way in ("copy", "link"):
                runs[way].append(open_reader(root, way == "link"))
        summary: dict[str, Any] = {"points": args.points, "dim": args.dim, "published_bytes": published}
        for way, rows in runs.items():
            summary[way] = {
                "open_seconds_median": statistics.median(r["seconds"] for r in rows),
                "disk_bytes": statistics.median(r["disk_bytes"] for r in rows),
            }
        link, copy = summary["link"], summary["copy"]
        summary["disk_ratio"] = link["disk_bytes"] / max(copy["disk_bytes"], 1)
        summary["open_ratio"] = link["open_seconds_median"] / max(copy["open_seconds_median"], 1e-9)
        print(json.dumps(summary, indent=1))
        print("\n| reader folder | disk per reader | open (median) |")
        print("|---|---:|---:|")
        for way, label in (("copy", "full copy (baseline)"), ("link", "linked data pages")):
            row = summary[way]
            print(f"| {label} | {row['disk_bytes'] / 2**20:,.1f} MiB | {row['open_seconds_median']:.2f} s |")
        print(f"| ratio | {summary['disk_ratio']:.3f}× | {summary['open_ratio']:.3f}× |")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
