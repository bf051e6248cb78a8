"""The second stage of ingest: embed → dead letters → index, on its own thread.

The consumer thread polls and decodes batch N+1 while this stage embeds batch N,
so Kafka I/O and JSON parsing overlap with the model. Batches are applied in
order; the consumer commits only offsets this stage reports as done.

Order inside a batch: embed, make its dead letters durable, then write posts and
offsets to the index together. A failure before the index write leaves the
index's offsets where they were, so the batch is read again (nothing is lost;
a dead letter may be sent twice).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from index.embedder import Embedder
from index.errors import EmbedderError
from index.store import PostStore
from index.stories import StoryTracker
from ingest.batch import DecodedBatch, dead_letter, to_record
from ingest.dlq import DeadLetterWriter
from ingest.errors import IngestStageFailed
from ingest.metrics import IngestMetrics

log = logging.getLogger(__name__)
WAIT_SLICE_S = 0.1


@dataclass(slots=True)
class IngestProgress:
    """Counters the API reports; replaced field by field by the ingest threads."""

    batches: int = 0
    posts_indexed: int = 0
    posts_deleted: int = 0
    dead_letters: int = 0
    consumer_lag: dict[int, int] = field(default_factory=dict)
    connected: bool = False
    last_error: str | None = None


@dataclass(slots=True)
class StageParts:
    """What the stage writes to and reports through."""

    embedder: Embedder
    store: PostStore
    dlq: DeadLetterWriter
    progress: IngestProgress
    metrics: IngestMetrics | None = None
    on_batch: Callable[[int], None] | None = None  # called with the batch's record count
    stories: StoryTracker | None = None  # sees each batch just before the index (issue 5)


class IndexStage:
    """Processes submitted batches in order on one thread; at most ``depth`` wait their turn."""

    def __init__(self, parts: StageParts, depth: int = 2) -> None:
        self._parts = parts
        self._depth = depth
        self._queue: list[tuple[DecodedBatch, list[ConsumerRecord]]] = []
        self._in_flight = 0
        self._done: dict[TopicPartition, OffsetAndMetadata] = {}
        self._error: BaseException | None = None
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="feedpulse-index-stage", daemon=True)

    def __enter__(self) -> IndexStage:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def submit(self, batch: DecodedBatch, records: list[ConsumerRecord]) -> None:
        """Queue a batch; blocks while ``depth`` batches wait (back-pressure on polling)."""
        with self._cond:
            while len(self._queue) >= self._depth and self._error is None:
                self._cond.wait(WAIT_SLICE_S)
            self._raise_if_failed()
            self._queue.append((batch, records))
            self._in_flight += 1
            self._cond.notify_all()

    @property
    def idle(self) -> bool:
        """Nothing queued or being processed: a batch submitted now starts at once."""
        return self._in_flight == 0

    def drain(self) -> None:
        """Wait until every submitted batch is in the index (or the stage failed)."""
        with self._cond:
            while self._in_flight and self._error is None:
                self._cond.wait(WAIT_SLICE_S)
            self._raise_if_failed()

    def done_offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Offsets of finished batches not yet marked committed (a commit may fail and be retried)."""
        with self._cond:
            self._raise_if_failed()
            return dict(self._done)

    def mark_committed(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Forget offsets the group has accepted, unless a later batch has moved them on."""
        with self._cond:
            for tp, meta in offsets.items():
                if self._done.get(tp) == meta:
                    del self._done[tp]

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise IngestStageFailed(f"index stage failed: {self._error}") from self._error

    def _run(self) -> None:
        while (item := self._next()) is not None:
            batch, records = item
            try:
                self._process(batch, records)
            except BaseException as exc:  # handed to the consumer thread, which reconnects
                log.error("index stage failed on a batch of %d records: %s", len(records), exc)
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._done.update(commit_offsets(records))
                self._in_flight -= 1
                self._cond.notify_all()

    def _next(self) -> tuple[DecodedBatch, list[ConsumerRecord]] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait(WAIT_SLICE_S)
            item = self._queue.pop(0)
            self._cond.notify_all()
            return item

    def _process(self, batch: DecodedBatch, records: list[ConsumerRecord]) -> None:
        parts = self._parts
        started = time.perf_counter()
        items, vectors = self._embed(batch)
        embed_s = time.perf_counter() - started
        for letter in batch.dead:
            parts.dlq.send(letter)
        parts.dlq.flush()
        indexed_at = time.time()
        posts = [to_record(post, source, indexed_at) for post, source in items]
        if parts.stories is not None:
            # Only what the index will hold: not a deleted id's late copy, not an older version.
            self._observe_stories(*parts.store.admissible(posts, vectors), batch.deletes)
        parts.store.apply(posts, vectors, sorted(batch.deletes), batch.next_offsets)
        self._report(batch, items, len(records), embed_s, indexed_at)

    def _observe_stories(self, posts: list, vectors: np.ndarray, deletes: set[str]) -> None:
        """Before the index, so a snapshot (stories exported after the index) never has them behind.

        Posts already tracked are skipped, so a batch re-read after a restart is not counted twice.
        """
        try:
            deleted_vectors = self._deleted_vectors(posts, vectors, deletes)
            self._parts.stories.observe(posts, vectors, sorted(deletes), deleted_vectors)
        except Exception:  # stories are derived: a bug there must not stop indexing
            log.exception("story tracking failed on a batch of %d posts", len(posts))

    def _deleted_vectors(self, posts: list, vectors: np.ndarray, deletes: set[str]) -> dict[str, np.ndarray]:
        """The vectors deleted posts joined their stories with, so a delete leaves no trace there.

        A post of this batch has its vector at hand; an indexed one's text is embedded
        again (same model, so the same vector: IVF segments keep no exact copy), which
        costs little as deletes are rare.
        """
        if not deletes:
            return {}
        in_batch = {post.post_id: vector for post, vector in zip(posts, vectors, strict=True)}
        found = {pid: in_batch[pid] for pid in deletes if pid in in_batch}
        held = [r for pid in sorted(deletes - found.keys()) if (r := self._parts.store.get(pid)) is not None]
        if held:
            embedded = self._parts.embedder.embed([record.text for record in held])
            found |= {record.post_id: vector for record, vector in zip(held, embedded, strict=True)}
        return found

    def _embed(self, batch: DecodedBatch) -> tuple[list, np.ndarray]:
        items = list(batch.upserts.values())
        try:
            return items, self._parts.embedder.embed([post.text for post, _ in items])
        except EmbedderError:
            return self._embed_one_by_one(batch, items)

    def _embed_one_by_one(self, batch: DecodedBatch, items: list) -> tuple[list, np.ndarray]:
        """A batch failed: embed posts singly so only the bad ones become dead letters."""
        embedder = self._parts.embedder
        kept, rows = [], []
        for post, source in items:
            try:
                rows.append(embedder.embed([post.text])[0])
                kept.append((post, source))
            except EmbedderError as exc:
                batch.dead.append(dead_letter(source, f"embedding failed: {exc}"))
        vectors = np.stack(rows) if rows else np.empty((0, embedder.dim), np.float32)
        return kept, vectors

    def _report(
        self, batch: DecodedBatch, items: list, records: int, embed_s: float, indexed_at: float
    ) -> None:
        parts = self._parts
        progress = parts.progress
        progress.batches += 1
        progress.posts_indexed += len(items)
        progress.posts_deleted += len(batch.deletes)
        progress.dead_letters += len(batch.dead)
        if parts.metrics:
            parts.metrics.observe_batch(records, embed_s)
            published = [source.timestamp / 1000 for _, source in items]
            parts.metrics.observe_indexed(published, indexed_at, len(batch.deletes))
            parts.metrics.dead_letters.inc(len(batch.dead))
        if parts.on_batch:
            parts.on_batch(records)


def commit_offsets(records: list[ConsumerRecord]) -> dict[TopicPartition, OffsetAndMetadata]:
    """Per partition, the offset after the last record: what to commit once they are indexed."""
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        current = offsets.get(tp)
        if current is None or record.offset + 1 > current.offset:
            offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
    return offsets
