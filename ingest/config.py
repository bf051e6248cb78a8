"""Configuration of the Kafka side: where the broker is, topics, batching."""

from pydantic import BaseModel, Field


class KafkaConfig(BaseModel):
    """How clients reach the broker and which topics they use."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "posts"
    dlq_topic: str = "posts.dlq"
    partitions: int = Field(6, ge=1)
    group_id: str = "feedpulse-indexer"
    request_timeout_ms: int = Field(10_000, ge=1_000)
    # A member that stops polling holds a rebalance this long (kafka-python's default is 300 s);
    # one batch takes seconds, so a minute is ample and a restarted worker gets its partitions sooner.
    max_poll_interval_ms: int = Field(60_000, ge=10_000)
    session_timeout_ms: int = Field(10_000, ge=6_000)
    # kafka-python backs off up to 30 s between reconnects by default; after a broker
    # restart that delays ingest for no reason on a local or LAN broker.
    reconnect_backoff_max_ms: int = Field(1_000, ge=50)


class IngestConfig(BaseModel):
    """Micro-batching of the consumer loop: a batch closes at max posts or max wait."""

    batch_max_posts: int = Field(256, ge=1)
    batch_max_wait_ms: int = Field(100, ge=1)
    # Batches decoded and waiting while one is embedded: more smooths bursts, costs memory.
    pipeline_depth: int = Field(2, ge=1)
    lag_refresh_s: float = Field(2.0, gt=0)
    # Reading nothing this long while records wait means the group membership is broken: the
    # worker replaces its consumer. A dead member holds a rebalance for one session timeout (10 s);
    # kafka-python 3.0 was seen stuck in "rebalance in progress" for a minute, where a fresh
    # consumer joined at once (tests/integration/test_crash_recovery.py logs).
    stall_timeout_s: float = Field(20.0, gt=0)
