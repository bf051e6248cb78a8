"""Memory and time over a long stream: with retention (dropping time segments) vs without.

A synthetic stream of unit 384-d vectors (the all-MiniLM-L6-v2 shape) goes through
``PostStore.apply`` in batches of 1,000, created times advancing ``--rate`` posts
per second of stream time; ``--retention-h`` keeps the last hours. Embedding is
not measured here (see embedding_throughput.py): only what the store holds.

Baseline, in the same run: the same stream with retention off. Each mode runs in
its own process so RSS does not mix. The ratios are the final RSS growth with
retention / without, and the time to apply the stream with retention / without
(what eviction costs). The index is flat (exact, fp32: the largest per-post cost),
in time segments of ``--segment-posts``.

    python bench/retention_memory.py [--posts 1500000] [--rate 100] [--retention-h 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import psutil

from bench.common import machine, write_result
from index.config import IndexConfig
from index.records import PostRecord
from index.store import PostStore

DIM = 384
BATCH = 1_000
SAMPLES = 15


def stream(posts: int, rate: float, retention_h: float | None, segment_posts: int) -> dict:
    """Apply the stream; RSS (MB), live posts, slot rows held and segments at evenly spaced points."""
    config = IndexConfig(
        ann="flat", retention_s=retention_h * 3600 if retention_h else None, segment_posts=segment_posts
    )
    store = PostStore(DIM, config)
    rng = np.random.default_rng(0)
    process = psutil.Process()
    start_rss = process.memory_info().rss
    every = max(BATCH, posts // SAMPLES // BATCH * BATCH)
    t0, samples, started = 1.7e9, [], time.perf_counter()
    for first in range(0, posts, BATCH):
        vectors = rng.standard_normal((BATCH, DIM), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        records = [
            PostRecord(post_id=f"p{n}", text=f"post {n}", author="a", created_at=t0 + n / rate)
            for n in range(first, first + BATCH)
        ]
        store.apply(records, vectors)
        if (first + BATCH) % every == 0:
            samples.append(
                {
                    "posts_streamed": first + BATCH,
                    "live_posts": len(store),
                    "slots": len(store._records),
                    "segments": store.stats().segments,
                    "rss_mb": round(process.memory_info().rss / 2**20, 1),
                }
            )
    return {
        "retention_h": retention_h,
        "seconds": round(time.perf_counter() - started, 1),
        "start_rss_mb": round(start_rss / 2**20, 1),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_500_000)
    parser.add_argument("--rate", type=float, default=100.0, help="posts per second of stream time")
    parser.add_argument("--retention-h", type=float, default=1.0)
    parser.add_argument("--segment-posts", type=int, default=IndexConfig().segment_posts)
    args = parser.parse_args()
    with ProcessPoolExecutor(max_workers=1) as pool:  # one at a time: each gets the machine
        kept = pool.submit(stream, args.posts, args.rate, args.retention_h, args.segment_posts).result()
    with ProcessPoolExecutor(max_workers=1) as pool:
        baseline = pool.submit(stream, args.posts, args.rate, None, args.segment_posts).result()
    growth = {
        name: run["samples"][-1]["rss_mb"] - run["start_rss_mb"]
        for name, run in (("kept", kept), ("all", baseline))
    }
    half = len(kept["samples"]) // 2
    second_half = [s["rss_mb"] for s in kept["samples"][half:]]
    payload = {
        "posts": args.posts,
        "rate_per_s": args.rate,
        "retention_h": args.retention_h,
        "expected_live": int(args.rate * args.retention_h * 3600),
        "segment_posts": args.segment_posts,
        "with_retention": kept,
        "without_retention": baseline,
        "rss_growth_mb": {"with_retention": round(growth["kept"], 1), "without": round(growth["all"], 1)},
        "ratio_growth_with_vs_without": round(growth["kept"] / max(growth["all"], 1e-9), 3),
        "second_half_rss_spread_mb": round(max(second_half) - min(second_half), 1),
        "ratio_time_with_vs_without": round(kept["seconds"] / max(baseline["seconds"], 1e-9), 3),
        "machine": machine(),
    }
    path = write_result("retention_memory", payload)
    print(
        f"{'streamed':>10} {'live (ret.)':>11} {'slots':>9} {'segments':>8} "
        f"{'RSS ret. MB':>11} {'RSS all MB':>10}"
    )
    for with_r, without in zip(kept["samples"], baseline["samples"], strict=False):
        print(
            f"{with_r['posts_streamed']:>10,} {with_r['live_posts']:>11,} {with_r['slots']:>9,} "
            f"{with_r['segments']:>8} "
            f"{with_r['rss_mb']:>11,.0f} {without['rss_mb']:>10,.0f}"
        )
    print(
        f"RSS growth: {growth['kept']:.0f} MB with {args.retention_h} h retention vs {growth['all']:.0f} MB "
        f"keeping everything (ratio {payload['ratio_growth_with_vs_without']}); "
        f"second-half spread {payload['second_half_rss_spread_mb']} MB; time {kept['seconds']} s vs "
        f"{baseline['seconds']} s (ratio {payload['ratio_time_with_vs_without']}) -> {path}"
    )


if __name__ == "__main__":
    main()
