import time

from prometheus_client import CollectorRegistry, generate_latest

from ingest.metrics import RATE_WINDOW_S, IngestMetrics


def sample(registry: CollectorRegistry, name: str, labels: dict | None = None) -> float | None:
    return registry.get_sample_value(name, labels or {})


def test_freshness_is_observed_once_per_indexed_post():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    metrics.observe_indexed([10.0, 10.5, 11.0], indexed_at=11.05, deleted=2)
    assert sample(registry, "feedpulse_ingest_freshness_seconds_count") == 3
    assert abs(sample(registry, "feedpulse_ingest_freshness_seconds_sum") - (1.05 + 0.55 + 0.05)) < 1e-9
    assert sample(registry, "feedpulse_ingest_freshness_seconds_bucket", {"le": "0.1"}) == 1
    assert sample(registry, "feedpulse_posts_indexed_total") == 3
    assert sample(registry, "feedpulse_posts_deleted_total") == 2


def test_a_timestamp_from_the_future_counts_as_zero_freshness():
    registry = CollectorRegistry()
    IngestMetrics(registry).observe_indexed([20.0], indexed_at=10.0, deleted=0)
    assert sample(registry, "feedpulse_ingest_freshness_seconds_bucket", {"le": "0.01"}) == 1


def test_batches_lag_and_rate():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    metrics.observe_batch(records=200, embed_s=0.3)
    metrics.set_lag({0: 5, 3: 0})
    metrics.observe_indexed([1.0] * 50, indexed_at=2.0, deleted=0)
    assert sample(registry, "feedpulse_ingest_batch_size_count") == 1
    assert sample(registry, "feedpulse_ingest_embed_seconds_sum") == 0.3
    assert sample(registry, "feedpulse_consumer_lag", {"partition": "0"}) == 5
    assert sample(registry, "feedpulse_ingest_posts_per_second") == 50 / RATE_WINDOW_S
    assert b"feedpulse_ingest_freshness_seconds_bucket" in generate_latest(registry)


def test_the_rate_falls_to_zero_when_ingest_is_idle():
    metrics = IngestMetrics(CollectorRegistry())
    metrics.observe_indexed([1.0] * 10, indexed_at=2.0, deleted=0)
    assert metrics.posts_per_second(time.monotonic() + RATE_WINDOW_S + 1) == 0
