"""The vector store: FAISS inner product over normalised vectors, plus post metadata.

Each post gets an int64 slot id for FAISS (``IndexIDMap2`` over ``IndexFlatIP``);
metadata, creation times and liveness are kept per slot so that time windows
become a FAISS id-selector bitmap. One writer (ingest) and many readers (API)
share it through a readers-writer lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import faiss
import numpy as np

from index.records import IndexStats, PostRecord, SearchHit
from index.rwlock import ReadWriteLock


@dataclass(slots=True, frozen=True)
class StoreState:
    """A point-in-time copy of the store, as snapshots persist it."""

    index_bytes: np.ndarray  # faiss.serialize_index output (uint8)
    records: list[PostRecord | None]  # by slot id; None for a deleted post's slot
    offsets: dict[int, int]


@dataclass(slots=True, frozen=True)
class ApplyResult:
    """What one write batch changed."""

    added: int
    replaced: int
    deleted: int


class PostStore:
    """Posts and their vectors, searchable by similarity within a creation-time window."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._lock = ReadWriteLock()
        self._records: list[PostRecord | None] = []
        self._slot_of: dict[str, int] = {}
        self._created = np.zeros(1024, dtype=np.float64)
        self._live = np.zeros(1024, dtype=bool)
        self._offsets: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._slot_of)

    def apply(
        self,
        upserts: Sequence[PostRecord],
        vectors: np.ndarray,
        deletes: Sequence[str] = (),
        offsets: Mapping[int, int] | None = None,
    ) -> ApplyResult:
        """Apply one batch atomically: upserts (by post id), then deletes, then offsets.

        Args:
            upserts: posts to add or replace; a post id already present is replaced,
                never given a second vector.
            vectors: normalised float32 vectors, one row per upsert.
            deletes: post ids to remove; unknown ids are ignored.
            offsets: partition -> next offset to read, recorded with the data.
        """
        if len(upserts) != len(vectors):
            raise ValueError(f"{len(upserts)} upserts but {len(vectors)} vectors")
        upserts, vectors = _last_per_id(upserts, vectors)
        with self._lock.write():
            replaced = self._remove_slots([r.post_id for r in upserts], forget=False)
            added = len(upserts) - replaced
            if upserts:
                slots = np.array([self._claim_slot(r) for r in upserts], dtype=np.int64)
                self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), slots)
            deleted = self._remove_slots(deletes, forget=True)
            if offsets:
                self._offsets.update(offsets)
        return ApplyResult(added=added, replaced=replaced, deleted=deleted)

    def search(
        self, query: np.ndarray, k: int, since: float | None = None, until: float | None = None
    ) -> list[SearchHit]:
        """Top-k live posts by cosine similarity, created within [since, until] (Unix s)."""
        with self._lock.read():
            used = len(self._records)
            window = self._live[:used].copy()
            if since is not None:
                window &= self._created[:used] >= since
            if until is not None:
                window &= self._created[:used] <= until
            candidates = int(window.sum())
            if not candidates or k <= 0:
                return []
            bitmap = np.packbits(window, bitorder="little")
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(used, faiss.swig_ptr(bitmap)))
            scores, slots = self._index.search(
                np.ascontiguousarray(query.reshape(1, -1), np.float32), min(k, candidates), params=params
            )
            return [
                SearchHit(post=record, score=float(score))
                for score, slot in zip(scores[0], slots[0], strict=True)
                if slot >= 0 and (record := self._records[slot]) is not None
            ]

    def get(self, post_id: str) -> PostRecord | None:
        """The live post with this id, or None."""
        with self._lock.read():
            slot = self._slot_of.get(post_id)
            return None if slot is None else self._records[slot]

    def stats(self) -> IndexStats:
        """Size, time span and applied offsets, read consistently."""
        with self._lock.read():
            live = self._created[: len(self._records)][self._live[: len(self._records)]]
            return IndexStats(
                posts=len(self._slot_of),
                vectors=int(self._index.ntotal),
                newest_created_at=float(live.max()) if live.size else None,
                oldest_created_at=float(live.min()) if live.size else None,
                applied_offsets=dict(self._offsets),
            )

    def export_state(self) -> StoreState:
        """Copy the FAISS index, metadata and offsets consistently (readers continue)."""
        with self._lock.read():
            return StoreState(faiss.serialize_index(self._index), list(self._records), dict(self._offsets))

    def restore(self, state: StoreState) -> None:
        """Replace everything with a previously exported state."""
        index = faiss.deserialize_index(state.index_bytes)
        if index.d != self.dim:
            raise ValueError(f"state has dimension {index.d}, store has {self.dim}")
        used = len(state.records)
        created = np.zeros(max(1024, used), dtype=np.float64)
        live = np.zeros(max(1024, used), dtype=bool)
        slot_of = {}
        for slot, record in enumerate(state.records):
            if record is not None:
                slot_of[record.post_id] = slot
                created[slot] = record.created_at
                live[slot] = True
        with self._lock.write():
            self._index = index
            self._records = list(state.records)
            self._slot_of = slot_of
            self._created, self._live = created, live
            self._offsets = dict(state.offsets)

    def _claim_slot(self, record: PostRecord) -> int:
        slot = self._slot_of.get(record.post_id)
        if slot is None:
            slot = len(self._records)
            self._records.append(None)
            self._grow(slot + 1)
            self._slot_of[record.post_id] = slot
        self._records[slot] = record
        self._created[slot] = record.created_at
        self._live[slot] = True
        return slot

    def _remove_slots(self, post_ids: Sequence[str], *, forget: bool) -> int:
        slots = [s for pid in dict.fromkeys(post_ids) if (s := self._slot_of.get(pid)) is not None]
        if not slots:
            return 0
        self._index.remove_ids(np.array(slots, dtype=np.int64))
        for slot in slots:
            self._live[slot] = False
            if forget:
                record = self._records[slot]
                self._records[slot] = None
                if record is not None:
                    del self._slot_of[record.post_id]
        return len(slots)

    def _grow(self, needed: int) -> None:
        if needed <= len(self._created):
            return
        capacity = max(needed, 2 * len(self._created))
        self._created = np.resize(self._created, capacity)
        self._live = np.resize(self._live, capacity)
        self._live[needed:] = False


def _last_per_id(
    upserts: Sequence[PostRecord], vectors: np.ndarray
) -> tuple[Sequence[PostRecord], np.ndarray]:
    """Keep only the last upsert of each post id, so one batch never adds two vectors."""
    last = {record.post_id: i for i, record in enumerate(upserts)}
    if len(last) == len(upserts):
        return upserts, vectors
    keep = sorted(last.values())
    return [upserts[i] for i in keep], vectors[keep]
