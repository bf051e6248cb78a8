"""Turning one polled batch of Kafka records into index writes and dead letters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kafka.consumer.fetcher import ConsumerRecord

from index.records import PostRecord
from ingest.dlq import DeadLetter
from ingest.errors import InvalidRecord
from ingest.schema import Delete, Post, Upsert, decode_record


@dataclass(slots=True)
class DecodedBatch:
    """The net effect of a batch: per post id the last upsert, unless the id was deleted.

    Post ids are never reused, so a delete is final: an upsert after it is dropped
    (the store also remembers deletes across batches).
    """

    upserts: dict[str, tuple[Post, ConsumerRecord]] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)
    dead: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)  # partition -> offset + 1
    newest_timestamp_ms: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.upserts) + len(self.deletes) + len(self.dead)


def decode_batch(records: Sequence[ConsumerRecord]) -> DecodedBatch:
    """Decode records; invalid ones become dead letters, the rest net out per post id."""
    batch = DecodedBatch()
    for record in records:
        batch.next_offsets[record.partition] = max(
            batch.next_offsets.get(record.partition, 0), record.offset + 1
        )
        try:
            operation = decode_record(record.key, record.value)
        except InvalidRecord as exc:
            batch.dead.append(dead_letter(record, str(exc)))
            continue
        if isinstance(operation, Delete):
            batch.upserts.pop(operation.post_id, None)
            batch.deletes.add(operation.post_id)
        elif isinstance(operation, Upsert) and operation.post.id not in batch.deletes:
            batch.upserts[operation.post.id] = (operation.post, record)
    return batch


def dead_letter(record: ConsumerRecord, error: str) -> DeadLetter:
    """A dead letter carrying the record's raw bytes and its topic/partition/offset."""
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        error=error,
    )


def to_record(post: Post, source: ConsumerRecord, indexed_at: float | None = None) -> PostRecord:
    """The index's view of a post, stamped with where it came from and when it landed."""
    return PostRecord(
        post_id=post.id,
        text=post.text,
        author=post.author,
        created_at=post.created_at.timestamp(),
        url=post.url,
        lang=post.lang,
        indexed_at=indexed_at if indexed_at is not None else time.time(),
        partition=source.partition,
        offset=source.offset,
        edited_at=post.edited_at.timestamp() if post.edited_at else None,
    )
