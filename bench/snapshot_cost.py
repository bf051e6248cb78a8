"""Snapshot cost at scale: a snapshot that hard-links unchanged segments vs one that writes everything.

A store of ``--posts`` synthetic 384-d posts (flat index, time segments of
``--segment-posts``) gets a full snapshot; then, ``--rounds`` times, one ingest
batch of new posts (and a few deletes in old segments, as a live stream has) is
applied and two snapshots of the same state are written, taking turns: the
baseline writes every segment (``reuse=None``, what a restarted writer does),
ours hard-links the segments unchanged since the snapshot it wrote last. Both
fsync everything they write. Reported: seconds and bytes written per snapshot,
and the ratio ours / baseline.

    python bench/snapshot_cost.py [--posts 1000000] [--segment-posts 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.common import machine, write_result
from index.config import IndexConfig
from index.records import PostRecord
from index.snapshot import write_snapshot
from index.store import PostStore

DIM = 384
BATCH = 2_048


def posts(start: int, count: int) -> tuple[list[PostRecord], np.ndarray]:
    rng = np.random.default_rng(start)
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        PostRecord(
            post_id=f"p{n}", text=f"post {n} about what is happening", author="a", created_at=1.7e9 + n
        )
        for n in range(start, start + count)
    ]
    return records, vectors


def written_bytes(snapshot: Path) -> int:
    """Bytes this snapshot wrote: files not shared (by hard link) with another snapshot."""
    return sum(path.stat().st_size for path in snapshot.iterdir() if path.stat().st_nlink == 1)


def timed(store: PostStore, root: Path, reuse: Path | None) -> tuple[Path, float]:
    started = time.perf_counter()
    path = write_snapshot(store, root, keep=4, reuse=reuse)
    return path, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--segment-posts", type=int, default=IndexConfig().segment_posts)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    store = PostStore(DIM, IndexConfig(ann="flat", retention_s=None, segment_posts=args.segment_posts))
    for start in range(0, args.posts, BATCH):
        store.apply(*posts(start, min(BATCH, args.posts - start)))
    rows = []
    with (
        tempfile.TemporaryDirectory(dir=Path.home()) as ours_dir,
        tempfile.TemporaryDirectory(dir=Path.home()) as full_dir,
    ):
        last, _ = timed(store, Path(ours_dir), None)
        for round_no in range(args.rounds):
            records, vectors = posts(args.posts + round_no * BATCH, BATCH)
            store.apply(records, vectors, deletes=[f"p{round_no * 7}"])  # a delete in the oldest segment
            full, full_s = timed(store, Path(full_dir), None)
            last, ours_s = timed(store, Path(ours_dir), last)
            rows.append(
                {
                    "full_s": round(full_s, 3),
                    "ours_s": round(ours_s, 3),
                    "full_mb": round(written_bytes(full) / 2**20, 1),
                    "ours_mb": round(written_bytes(last) / 2**20, 1),
                }
            )
            print(rows[-1], flush=True)
    full_s = statistics.median(r["full_s"] for r in rows)
    ours_s = statistics.median(r["ours_s"] for r in rows)
    payload = {
        "posts": args.posts,
        "segment_posts": args.segment_posts,
        "segments": store.stats().segments,
        "batch": BATCH,
        "rounds": rows,
        "median_full_s": full_s,
        "median_ours_s": ours_s,
        "ratio_time_ours_vs_full": round(ours_s / full_s, 3),
        "ratio_bytes_ours_vs_full": round(
            statistics.median(r["ours_mb"] for r in rows) / statistics.median(r["full_mb"] for r in rows), 3
        ),
        "machine": machine(),
    }
    path = write_result("snapshot_cost", payload)
    print(
        f"{args.posts:,} posts in {payload['segments']} segments: a snapshot after one batch takes "
        f"{ours_s:.2f} s reusing unchanged segments vs {full_s:.2f} s writing all "
        f"(time ratio {payload['ratio_time_ours_vs_full']}, "
        f"bytes ratio {payload['ratio_bytes_ours_vs_full']}) "
        f"-> {path}"
    )


if __name__ == "__main__":
    main()
