"""The ingest loop: poll → decode → embed → index → dead letters → commit.

Offsets are committed only after the batch is in the index and its dead letters
are acknowledged, so a crash re-reads (and idempotently re-applies) instead of
losing posts. A stop event ends the loop after the batch in hand.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from index.embedder import Embedder
from index.errors import EmbedderError
from index.store import PostStore
from ingest.batch import DecodedBatch, dead_letter, decode_batch, to_record
from ingest.config import IngestConfig, KafkaConfig
from ingest.dlq import DeadLetterWriter
from ingest.errors import BrokerUnavailable

log = logging.getLogger(__name__)
RETRY_BACKOFF_S = 2.0


@dataclass(slots=True)
class IngestProgress:
    """Counters the API reports; replaced field by field by the worker thread."""

    batches: int = 0
    posts_indexed: int = 0
    posts_deleted: int = 0
    dead_letters: int = 0
    consumer_lag: dict[int, int] = field(default_factory=dict)
    connected: bool = False
    last_error: str | None = None


class IngestWorker:
    """Consumes ``posts`` in group ``feedpulse-indexer`` and keeps a PostStore current."""

    def __init__(
        self,
        kafka: KafkaConfig,
        config: IngestConfig,
        embedder: Embedder,
        store: PostStore,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        self._kafka = kafka
        self._config = config
        self._embedder = embedder
        self._store = store
        self._on_batch = on_batch
        self.progress = IngestProgress()
        self._lag_checked = 0.0

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
            except (KafkaError, BrokerUnavailable) as exc:
                self._note_error(f"consumer failed, reconnecting: {exc}")
                stop.wait(RETRY_BACKOFF_S)
            finally:
                self.progress.connected = False
                _close_quietly(consumer, producer)

    def _connect(self) -> tuple[KafkaConsumer, KafkaProducer]:
        common = {
            "bootstrap_servers": self._kafka.bootstrap_servers,
            "request_timeout_ms": self._kafka.request_timeout_ms + 1_000,
        }
        consumer = KafkaConsumer(
            group_id=self._kafka.group_id,
            client_id="feedpulse-indexer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._config.batch_max_posts,
            **common,
        )
        consumer.subscribe([self._kafka.topic], listener=ResumeFromIndex(consumer, self._store))
        producer = KafkaProducer(acks="all", linger_ms=5, client_id="feedpulse-dlq", **common)
        self.progress.connected = True
        self.progress.last_error = None
        log.info("ingest consuming %s as group %s", self._kafka.topic, self._kafka.group_id)
        return consumer, producer

    def _consume(self, consumer: KafkaConsumer, dlq: DeadLetterWriter, stop: threading.Event) -> None:
        while not stop.is_set():
            records = self._poll_batch(consumer, stop)
            if records:
                self._process(decode_batch(records), dlq)
                consumer.commit(self._commit_offsets(records))
                if self._on_batch:
                    self._on_batch()
            self._refresh_lag(consumer)

    def _poll_batch(self, consumer: KafkaConsumer, stop: threading.Event) -> list:
        """Collect records until max posts, or max wait after the first one arrives."""
        records: list = []
        deadline = None
        while len(records) < self._config.batch_max_posts and not stop.is_set():
            wait_ms = 200 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            polled = consumer.poll(
                timeout_ms=wait_ms, max_records=self._config.batch_max_posts - len(records)
            )
            for partition_records in polled.values():
                records.extend(partition_records)
            if records and deadline is None:
                deadline = time.monotonic() + self._config.batch_max_wait_ms / 1000
            if not records and not polled:
                return records
            if deadline is not None and time.monotonic() >= deadline:
                break
        return records

    def _process(self, batch: DecodedBatch, dlq: DeadLetterWriter) -> None:
        self._embed_and_apply(batch)
        for letter in batch.dead:
            dlq.send(letter)
        dlq.flush()
        progress = self.progress
        progress.batches += 1
        progress.posts_indexed += len(batch.upserts)
        progress.posts_deleted += len(batch.deletes)
        progress.dead_letters += len(batch.dead)

    def _embed_and_apply(self, batch: DecodedBatch) -> None:
        items = list(batch.upserts.values())
        try:
            vectors = self._embedder.embed([post.text for post, _ in items])
        except EmbedderError:
            items, vectors = self._embed_one_by_one(batch, items)
        now = time.time()
        records = [to_record(post, source, now) for post, source in items]
        self._store.apply(records, vectors, sorted(batch.deletes), batch.next_offsets)

    def _embed_one_by_one(self, batch: DecodedBatch, items: list) -> tuple[list, np.ndarray]:
        """A batch failed: embed posts singly so only the bad ones become dead letters."""
        kept, rows = [], []
        for post, source in items:
            try:
                rows.append(self._embedder.embed([post.text])[0])
                kept.append((post, source))
            except EmbedderError as exc:
                batch.dead.append(dead_letter(source, f"embedding failed: {exc}"))
        vectors = np.stack(rows) if rows else np.empty((0, self._embedder.dim), np.float32)
        return kept, vectors

    @staticmethod
    def _commit_offsets(records: list) -> dict[TopicPartition, OffsetAndMetadata]:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            current = offsets.get(tp)
            if current is None or record.offset + 1 > current.offset:
                offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        return offsets

    def _refresh_lag(self, consumer: KafkaConsumer) -> None:
        if time.monotonic() - self._lag_checked < self._config.lag_refresh_s:
            return
        self._lag_checked = time.monotonic()
        assigned = consumer.assignment()
        if not assigned:
            return
        ends = consumer.end_offsets(list(assigned))
        self.progress.consumer_lag = {
            tp.partition: max(0, ends[tp] - consumer.position(tp)) for tp in sorted(assigned)
        }

    def _note_error(self, message: str) -> None:
        self.progress.last_error = message
        log.warning("%s", message)


class ResumeFromIndex(ConsumerRebalanceListener):
    """On assignment, seek each partition to the offset the index has applied.

    The index, not the group's committed offset, knows what it holds: a fresh
    in-memory index re-reads its partitions from the beginning, one restored
    from a snapshot from the snapshot's offsets. Committed offsets then only
    report progress (consumer lag) to the outside.
    """

    def __init__(self, consumer: KafkaConsumer, store: PostStore) -> None:
        self._consumer = consumer
        self._store = store

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Nothing pending: offsets are committed after every batch.
        return

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        applied = self._store.stats().applied_offsets
        for tp in assigned:
            if tp.partition in applied:
                self._consumer.seek(tp, applied[tp.partition])
            else:
                self._consumer.seek_to_beginning(tp)
        log.info(
            "assigned partitions %s; resuming from the index's offsets",
            sorted(tp.partition for tp in assigned),
        )


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
