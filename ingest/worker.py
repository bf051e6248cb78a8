"""The ingest loop: poll → decode → [embed → dead letters → index] → commit.

Polling and decoding run on the consumer thread; embedding and indexing run on
the index stage's thread (``ingest.pipeline``), so the two overlap. Offsets are
committed only for batches that are in the index with their dead letters
acknowledged, so a crash re-reads (and idempotently re-applies) instead of
losing posts. A stop event closes the batch in hand and finishes it.

The worker reads every partition of the topic by manual assignment, not as a
member of a consumer group: its index is a full replica of the topic, never a
share of it, so there is nothing to balance. Group membership only cost us:
kafka-python 3.0 left a one-member group "rebalancing" for 20 s at a time after
a burst (6 of 10 runs of a 1,322-post replay took 50 to 98 s instead of 5 to 8 s), and
a restarted worker waited a session timeout for its old member to expire. The
group id is still used to commit offsets (without a generation), which report
lag to the outside.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from index.embedder import Embedder
from index.store import PostStore
from index.stories import StoryTracker
from ingest.batch import decode_batch
from ingest.batching import BatchPolicy, collect_batch
from ingest.config import IngestConfig, KafkaConfig
from ingest.dlq import DeadLetterWriter
from ingest.errors import BrokerUnavailable, ConsumerStalled, IngestStageFailed
from ingest.metrics import IngestMetrics
from ingest.pipeline import IndexStage, IngestProgress, StageParts
from ingest.stall import StallWatch, index_behind

log = logging.getLogger(__name__)
RETRY_BACKOFF_S = 2.0
TOPIC_WAIT_S = 10.0
LAG_CHECK_TIMEOUT_MS = 2_000
__all__ = ["IngestProgress", "IngestService", "IngestWorker"]


class Checkpoints(Protocol):
    """Durable copies of the index (``index.snapshot.SnapshotScheduler``)."""

    def after_batch(self, records: int) -> None: ...

    def maybe_write(self) -> object: ...

    def write_now(self) -> object: ...

    def durable_offsets(self) -> dict[int, int]: ...


class IngestWorker:
    """Reads every partition of ``posts`` and keeps a PostStore current."""

    def __init__(
        self,
        kafka: KafkaConfig,
        config: IngestConfig,
        embedder: Embedder,
        store: PostStore,
        checkpoints: Checkpoints | None = None,
        metrics: IngestMetrics | None = None,
        stories: StoryTracker | None = None,
    ) -> None:
        """
        Args:
            checkpoints: snapshots of the index; when given, only offsets a durable
                snapshot covers are committed, so the group's lag counts what a crash
                would re-read, and a snapshot is taken before the final commit at stop.
                Without it, offsets are committed once they are in the index.
            stories: grouped into stories as each batch is indexed (``index.stories``).
        """
        self._kafka = kafka
        self._config = config
        self._embedder = embedder
        self._store = store
        self._checkpoints = checkpoints
        self._metrics = metrics
        self._stories = stories
        self._policy = BatchPolicy(config.batch_max_posts, config.batch_max_wait_ms / 1000)
        self.progress = IngestProgress()
        self._lag_checked = 0.0
        self._behind = False

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; broker outages are retried, never fatal."""
        while not stop.is_set():
            try:
                consumer, producer = self._connect()
            except (KafkaError, BrokerUnavailable) as exc:
                self._note_error(f"cannot connect to {self._kafka.bootstrap_servers}: {exc}")
                stop.wait(RETRY_BACKOFF_S)
                continue
            try:
                self._consume(consumer, DeadLetterWriter(producer, self._kafka), stop)
            except (KafkaError, BrokerUnavailable, IngestStageFailed, ConsumerStalled) as exc:
                self._note_error(f"consumer failed, reconnecting: {exc}")
                stop.wait(RETRY_BACKOFF_S)
            finally:
                self.progress.connected = False
                _close_quietly(consumer, producer)

    def _connect(self) -> tuple[KafkaConsumer, KafkaProducer]:
        common = {
            "bootstrap_servers": self._kafka.bootstrap_servers,
            "request_timeout_ms": self._kafka.request_timeout_ms + 1_000,
            "reconnect_backoff_max_ms": self._kafka.reconnect_backoff_max_ms,
        }
        consumer = KafkaConsumer(
            group_id=self._kafka.group_id,
            client_id="feedpulse-indexer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._config.batch_max_posts,
            **common,
        )
        self._wait_for_topic(consumer)
        producer = KafkaProducer(acks="all", linger_ms=5, client_id="feedpulse-dlq", **common)
        self.progress.connected = True
        self.progress.last_error = None
        return consumer, producer

    def _wait_for_topic(self, consumer: KafkaConsumer) -> None:
        """Wait until the broker knows the topic's partitions: the worker assigns itself all of them."""
        deadline = time.monotonic() + TOPIC_WAIT_S
        while not consumer.partitions_for_topic(self._kafka.topic):
            if time.monotonic() > deadline:
                consumer.close()
                raise BrokerUnavailable(f"topic {self._kafka.topic!r} does not exist (or has no partitions)")
            time.sleep(0.2)

    def _consume(self, consumer: KafkaConsumer, dlq: DeadLetterWriter, stop: threading.Event) -> None:
        self._committed: dict[TopicPartition, int] = {}
        self._commits_failing_since: float | None = None
        on_batch = self._checkpoints.after_batch if self._checkpoints else None
        parts = StageParts(
            self._embedder, self._store, dlq, self.progress, self._metrics, on_batch, self._stories
        )
        with IndexStage(parts, self._config.pipeline_depth) as stage:
            self._assign_all_partitions(consumer, stage)
            log.info(
                "ingest consuming %s (every partition; offsets committed as group %s)",
                self._kafka.topic,
                self._kafka.group_id,
            )
            watch = StallWatch(self._config.stall_timeout_s)
            while not stop.is_set():
                records = collect_batch(
                    lambda t, n: _poll(consumer, t, n), self._policy, stop, next_stage_idle=lambda: stage.idle
                )
                if records:
                    stage.submit(decode_batch(records), records)
                elif self._checkpoints is not None and stage.idle:
                    self._checkpoints.maybe_write()  # a quiet stream still gets its last batch snapshotted
                self._commit(consumer, stage)
                self._refresh_lag(consumer, stage)
                busy = len(records) + (0 if stage.idle else 1)
                if watch.observe(time.monotonic(), polled=busy, behind=self._behind):
                    raise ConsumerStalled(self._stall_report(consumer, watch))
            stage.drain()  # the batches in hand at shutdown are finished, snapshotted, then committed
            if self._checkpoints is not None:
                self._checkpoints.write_now()
            self._commit(consumer, stage)

    def _commit(self, consumer: KafkaConsumer, stage: IndexStage) -> None:
        """Commit what the index holds (durably, when snapshots are on); a refused commit is retried."""
        done = stage.done_offsets()  # also raises if the stage failed
        owned = consumer.assignment()
        if self._checkpoints is not None:
            durable = self._checkpoints.durable_offsets()
            done = {
                tp: OffsetAndMetadata(durable[tp.partition], "", -1)
                for tp in owned
                if tp.partition in durable
            }
            done = {tp: meta for tp, meta in done.items() if self._committed.get(tp) != meta.offset}
        offsets = {tp: meta for tp, meta in done.items() if tp in owned}
        if not offsets:
            return
        try:
            consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Harmless for the index (it resumes from its own offsets); lag is reported late.
            log.info("offset commit deferred: %s", exc)
            self._check_commits_recover(exc)
            return
        self._commits_failing_since = None
        stage.mark_committed(offsets)
        self._committed.update({tp: meta.offset for tp, meta in offsets.items()})

    def _check_commits_recover(self, exc: Exception) -> None:
        """Commits refused this long (say, a coordinator that never comes back): replace the consumer.

        Every record may already be read by then, so the no-records watch alone would not fire.
        """
        now = time.monotonic()
        self._commits_failing_since = self._commits_failing_since or now
        if now - self._commits_failing_since >= self._config.stall_timeout_s:
            raise ConsumerStalled(
                f"offset commits failing for {now - self._commits_failing_since:.0f} s: {exc}"
            )

    def _assign_all_partitions(self, consumer: KafkaConsumer, stage: IndexStage) -> None:
        """Assign every partition of the topic, each sought to the offset the index has applied.

        The index, not a committed offset, knows what it holds: a fresh in-memory
        index re-reads its partitions from the beginning, one restored from a
        snapshot from the snapshot's offsets.
        """
        stage.drain()  # the index's offsets must include every batch in flight
        partitions = self._topic_partitions(consumer)
        consumer.assign(partitions)
        applied = self._store.stats().applied_offsets
        for tp in partitions:
            if tp.partition in applied:
                consumer.seek(tp, applied[tp.partition])
            else:
                consumer.seek_to_beginning(tp)
        log.info(
            "assigned partitions %s; resuming from the index's offsets",
            [tp.partition for tp in partitions],
        )

    def _topic_partitions(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        topic = self._kafka.topic
        return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]

    def _refresh_lag(self, consumer: KafkaConsumer, stage: IndexStage) -> None:
        """Lag of each partition; partitions added to the topic since are assigned too."""
        if time.monotonic() - self._lag_checked < self._config.lag_refresh_s:
            return
        self._lag_checked = time.monotonic()
        partitions = self._topic_partitions(consumer)
        if not partitions:
            return
        if not set(partitions) <= consumer.assignment():
            self._assign_all_partitions(consumer, stage)
        try:
            ends = consumer.end_offsets(partitions, timeout_ms=LAG_CHECK_TIMEOUT_MS)
            positions = {tp: consumer.position(tp, timeout_ms=LAG_CHECK_TIMEOUT_MS) for tp in partitions}
        except KafkaError as exc:
            # The broker is away: kafka-python reconnects this consumer by itself and
            # keeps its positions; a fresh consumer would only add reconnect time.
            log.info("consumer lag unknown: %s", exc)
            return
        lag = {tp.partition: max(0, ends[tp] - at) for tp, at in positions.items() if at is not None}
        # A partition without a position yet (its seek still resolving) is behind if the index is.
        unpositioned_ends = {tp.partition: ends[tp] for tp, at in positions.items() if at is None}
        applied = self._store.stats().applied_offsets
        self._behind = any(lag.values()) or index_behind(unpositioned_ends, applied)
        self.progress.consumer_lag = lag
        if self._metrics:
            self._metrics.set_lag(lag)

    def _stall_report(self, consumer: KafkaConsumer, watch: StallWatch) -> str:
        assigned = sorted(tp.partition for tp in consumer.assignment())
        return (
            f"no records for {watch.stalled_for(time.monotonic()):.0f} s while the index is behind "
            f"{self._kafka.topic} (assigned partitions {assigned}, lag {self.progress.consumer_lag})"
        )

    def _note_error(self, message: str) -> None:
        self.progress.last_error = message
        log.warning("%s", message)


def _poll(consumer: KafkaConsumer, timeout_s: float, max_records: int) -> list:
    polled = consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max(1, max_records))
    return [record for partition_records in polled.values() for record in partition_records]


def _close_quietly(consumer: KafkaConsumer, producer: KafkaProducer) -> None:
    for client in (consumer, producer):
        try:
            client.close()
        except Exception:  # closing a broken client must not mask the original error
            log.debug("close failed", exc_info=True)


class IngestService:
    """Owns the worker thread: ``with IngestService(worker):`` starts it and stops it cleanly."""

    def __init__(self, worker: IngestWorker) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feedpulse-ingest", daemon=True)

    def __enter__(self) -> IngestService:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def wait(self) -> None:
        """Block until the worker stops (after ``stop`` or a signal handler sets the event)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def stop_event(self) -> threading.Event:
        return self._stop

    def _run(self) -> None:
        try:
            self.worker.run(self._stop)
        except Exception:
            log.exception("ingest worker died")
            raise
