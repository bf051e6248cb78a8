"""Ingest rate through the real broker: posts/s from Kafka into the FAISS index.

Baseline, measured in the same run on the same tweets: the embedder alone
(``embed`` in batches of the ingest batch size, no Kafka, no index). The ratio
shows what the rest of the pipeline costs.

    python bench/ingest_rate.py [--posts 5000]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench.common import bench_broker, write_result
from index.config import EmbedderConfig
from index.embedder import SentenceTransformerEmbedder
from index.store import PostStore
from ingest.crisislex import data_dir
from ingest.replay import Replayer, load_posts
from ingest.worker import IngestWorker
from serve.settings import Settings


def embed_only(embedder: SentenceTransformerEmbedder, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def ingest(settings: Settings, embedder: SentenceTransformerEmbedder, expected: int) -> float:
    store = PostStore(embedder.dim, settings.index)
    worker = IngestWorker(settings.kafka, settings.ingest, embedder, store)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    started = None
    thread.start()
    while len(store) < expected:
        if started is None and len(store) > 0:
            started = (time.perf_counter(), len(store))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started[0]
    stop.set()
    thread.join()
    return (expected - started[1]) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=5000)
    args = parser.parse_args()
    console = Console()
    with bench_broker() as settings:
        posts = load_posts([data_dir(settings.data)], args.posts, rebase_now=True)
        with Replayer(settings.kafka) as replayer:
            replayer.replay(posts)
        embedder = SentenceTransformerEmbedder(EmbedderConfig())
        texts = [post.text for post in posts]
        embedder.embed(texts[:64])  # warm-up
        baseline = embed_only(embedder, texts, settings.ingest.batch_max_posts)
        rate = ingest(settings, embedder, len({p.id for p in posts}))
    table = Table("measure", "posts/s")
    table.add_row("embedder alone (baseline)", f"{baseline:,.0f}")
    table.add_row("Kafka → embed → FAISS (ingest)", f"{rate:,.0f}")
    table.add_row("ratio ingest / baseline", f"{rate / baseline:.2f}")
    console.print(table)
    path = write_result(
        "ingest_rate",
        {
            "posts": len(posts),
            "batch_max_posts": settings.ingest.batch_max_posts,
            "embed_only_posts_per_s": round(baseline, 1),
            "ingest_posts_per_s": round(rate, 1),
            "ratio": round(rate / baseline, 3),
            "device": embedder.device,
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
