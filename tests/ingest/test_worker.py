"""The consumer loop's lag check: a broker that is away must not cost the consumer its membership."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError

from ingest.config import IngestConfig, KafkaConfig
from ingest.worker import IngestWorker

TOPIC = "posts"


@dataclass
class StubStats:
    applied_offsets: dict[int, int]


@dataclass
class StubStore:
    applied: dict[int, int] = field(default_factory=dict)

    def stats(self) -> StubStats:
        return StubStats(self.applied)


@dataclass
class StubConsumer:
    ends: dict[int, int]
    positions: dict[int, int | None]
    broker_away: bool = False

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self.ends)

    def end_offsets(self, partitions: list[TopicPartition], timeout_ms: int | None = None) -> dict:
        if self.broker_away:
            raise KafkaTimeoutError("Failed to get offsets by timestamps in 2000 ms")
        return {tp: self.ends[tp.partition] for tp in partitions}

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.positions}

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int | None:
        return self.positions[tp.partition]


def worker(store: StubStore) -> IngestWorker:
    config = IngestConfig(lag_refresh_s=0.001)
    return IngestWorker(KafkaConfig(topic=TOPIC), config, embedder=None, store=store)  # type: ignore[arg-type]


def test_lag_is_end_minus_position_for_assigned_partitions():
    consumer = StubConsumer(ends={0: 10, 1: 7}, positions={0: 4, 1: 7})
    ingest = worker(StubStore())
    ingest._refresh_lag(consumer)  # type: ignore[arg-type]
    assert ingest.progress.consumer_lag == {0: 6, 1: 0}
    assert ingest._behind


def test_unknown_position_is_left_out_not_counted_as_the_whole_partition():
    consumer = StubConsumer(ends={0: 10, 1: 7}, positions={0: None, 1: 7})
    ingest = worker(StubStore())
    ingest._refresh_lag(consumer)  # type: ignore[arg-type]
    assert ingest.progress.consumer_lag == {1: 0}


def test_broker_away_keeps_last_lag_and_does_not_raise():
    consumer = StubConsumer(ends={0: 10}, positions={0: 4})
    ingest = worker(StubStore())
    ingest._refresh_lag(consumer)  # type: ignore[arg-type]
    consumer.broker_away = True
    ingest._lag_checked = 0.0
    ingest._refresh_lag(consumer)  # must not raise: raising replaces the consumer and its membership
    assert ingest.progress.consumer_lag == {0: 6}


def test_records_on_unassigned_partitions_past_the_index_count_as_behind():
    consumer = StubConsumer(ends={0: 5, 1: 9}, positions={0: 5})
    ingest = worker(StubStore(applied={1: 3}))
    ingest._refresh_lag(consumer)  # type: ignore[arg-type]
    assert ingest._behind
