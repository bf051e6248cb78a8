"""Prometheus metrics of the ingest pipeline, registered on a registry the caller owns."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Freshness spans a quiet stream (tens of ms) to a backlog being replayed (minutes).
FRESHNESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300, 3600)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
EMBED_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RATE_WINDOW_S = 10.0


class IngestMetrics:
    """Freshness per post, batch sizes, embed time, throughput and consumer lag."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.freshness = Histogram(
            "feedpulse_ingest_freshness_seconds",
            "Kafka record timestamp to the moment the post is searchable",
            buckets=FRESHNESS_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "feedpulse_ingest_batch_size", "Records per micro-batch", buckets=BATCH_BUCKETS, registry=registry
        )
        self.embed_seconds = Histogram(
            "feedpulse_ingest_embed_seconds",
            "Time to embed one micro-batch",
            buckets=EMBED_BUCKETS,
            registry=registry,
        )
        self.posts_indexed = Counter(
            "feedpulse_posts_indexed", "Posts written to the index (upserts)", registry=registry
        )
        self.posts_deleted = Counter("feedpulse_posts_deleted", "Tombstones applied", registry=registry)
        self.dead_letters = Counter("feedpulse_dead_letters", "Records sent to the DLQ", registry=registry)
        self.rate = Gauge(
            "feedpulse_ingest_posts_per_second",
            f"Posts indexed per second over the last {RATE_WINDOW_S:.0f} s",
            registry=registry,
        )
        self.lag = Gauge(
            "feedpulse_consumer_lag", "Records not yet consumed", ["partition"], registry=registry
        )
        self._recent: deque[tuple[float, int]] = deque()
        self.rate.set_function(self.posts_per_second)

    def observe_batch(self, records: int, embed_s: float) -> None:
        self.batch_size.observe(records)
        self.embed_seconds.observe(embed_s)

    def observe_indexed(self, published_at: list[float], indexed_at: float, deleted: int) -> None:
        """Posts became searchable at ``indexed_at``; ``published_at`` are their record times."""
        for published in published_at:
            self.freshness.observe(max(0.0, indexed_at - published))
        self.posts_indexed.inc(len(published_at))
        self.posts_deleted.inc(deleted)
        self._recent.append((time.monotonic(), len(published_at)))

    def set_lag(self, lag: Mapping[int, int]) -> None:
        for partition, behind in lag.items():
            self.lag.labels(partition=str(partition)).set(behind)

    def posts_per_second(self, now: float | None = None) -> float:
        """Posts indexed over the last window, per second (0 when ingest is idle)."""
        now = time.monotonic() if now is None else now
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent.popleft()
        return sum(count for _, count in list(self._recent)) / RATE_WINDOW_S
