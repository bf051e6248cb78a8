"""Configuration of the Kafka side: where the broker is, topics, batching."""

from pydantic import BaseModel, Field


class KafkaConfig(BaseModel):
    """How clients reach the broker and which topics they use."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "posts"
    dlq_topic: str = "posts.dlq"
    partitions: int = Field(6, ge=1)
    # Offsets are committed under this group to report lag; the worker never joins it (ingest.worker).
    group_id: str = "feedpulse-indexer"
    request_timeout_ms: int = Field(10_000, ge=1_000)
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
    # Reading nothing this long while records wait means the consumer is broken (kafka-python
    # 3.0 has been seen to stop fetching): the worker replaces it with a fresh one.
    stall_timeout_s: float = Field(20.0, gt=0)
