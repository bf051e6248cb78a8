"""The consumer loop's lag check and partition assignment (every partition, sought to the index's offsets)."""

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
class StubStage:
    drained: int = 0

    def drain(self) -> None:
        self.drained += 1


@dataclass
class StubConsumer:
    """Assigned partitions are the keys of ``positions`` (None: position not known yet)."""

    ends: dict[int, int]
    positions: dict[int, int | None]
    broker_away: bool = False
    sought: dict[int, int | str] = field(default_factory=dict)

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

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.positions = {tp.partition: self.positions.get(tp.partition) for tp in partitions}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought[tp.partition] = offset

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.sought[tp.partition] = "beginning"


def worker(store: StubStore) -> IngestWorker:
    config = IngestConfig(lag_refresh_s=0.001)
    return IngestWorker(KafkaConfig(topic=TOPIC), config, embedder=None, store=store)  # type: ignore[arg-type]


def test_lag_is_end_minus_position_for_assigned_partitions():
    consumer = StubConsumer(ends={0: 10, 1: 7}, positions={0: 4, 1: 7})
    ingest = worker(StubStore())
    ingest._refresh_lag(consumer, StubStage())  # type: ignore[arg-type]
    assert ingest.progress.consumer_lag == {0: 6, 1: 0}
    assert ingest._behind


def test_unknown_position_is_left_out_not_counted_as_the_whole_partition():
    consumer = StubConsumer(ends={0: 10, 1: 7}, positions={0: None, 1: 7})
    ingest = worker(StubStore())
    ingest._refresh_lag(consumer, StubStage())  # type: ignore[arg-type]
    assert ingest.progress.consumer_lag == {1: 0}


def test_broker_away_keeps_last_lag_and_does_not_raise():
    consumer = StubConsumer(ends={0: 10}, positions={0: 4})
    ingest = worker(StubStore())
    ingest._refresh_lag(consumer, StubStage())  # type: ignore[arg-type]
    consumer.broker_away = True
    ingest._lag_checked = 0.0
    ingest._refresh_lag(consumer, StubStage())  # type: ignore[arg-type]  # must not raise
    assert ingest.progress.consumer_lag == {0: 6}


def test_a_partition_without_a_position_counts_as_behind_when_the_index_is():
    consumer = StubConsumer(ends={0: 5, 1: 9}, positions={0: 5, 1: None})
    ingest = worker(StubStore(applied={1: 3}))
    ingest._refresh_lag(consumer, StubStage())  # type: ignore[arg-type]
    assert ingest._behind
    caught_up = worker(StubStore(applied={1: 9}))
    caught_up._refresh_lag(consumer, StubStage())  # type: ignore[arg-type]
    assert not caught_up._behind


def test_every_partition_is_assigned_from_the_index_offsets_after_the_stage_drains():
    consumer = StubConsumer(ends={0: 5, 1: 9, 2: 4}, positions={})
    stage = StubStage()
    worker(StubStore(applied={1: 3}))._assign_all_partitions(consumer, stage)  # type: ignore[arg-type]
    assert stage.drained == 1
    assert set(consumer.positions) == {0, 1, 2}
    assert consumer.sought == {0: "beginning", 1: 3, 2: "beginning"}


def test_a_partition_added_to_the_topic_is_assigned_at_the_next_lag_check():
    consumer = StubConsumer(ends={0: 5, 1: 9}, positions={0: 5})
    stage = StubStage()
    worker(StubStore(applied={0: 5}))._refresh_lag(consumer, stage)  # type: ignore[arg-type]
    assert set(consumer.positions) == {0, 1} and stage.drained == 1
    assert consumer.sought == {0: 5, 1: "beginning"}
