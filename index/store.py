"""The vector store: FAISS inner product over normalised vectors, plus post metadata.

Each post gets an int64 slot id for FAISS: exact (``IndexIDMap2`` over ``IndexFlatIP``)
or, for large stores, approximate (``IndexIVFFlat``); ``index/ann.py`` picks and
retrains it. Metadata, creation times and liveness are kept per slot so that time
windows become a FAISS id-selector bitmap. One writer (ingest) and many readers (API)
share it through a readers-writer lock.

Writes are idempotent and order-tolerant: an upsert older (by version) than the
post it would replace is skipped, a deleted id stays deleted (post ids are never
reused, so a late or replayed post is not resurrected), and posts created more
than ``retention_s`` before the newest post seen are evicted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import faiss
import numpy as np

from index import ann
from index.config import IndexConfig
from index.records import IndexStats, PostRecord, SearchHit
from index.rwlock import ReadWriteLock

log = logging.getLogger(__name__)
# A created_at this far past the wall clock does not move stream time (it would evict everything).
MAX_CLOCK_SKEW_S = 300.0
EVICT_STEP = 0.01  # sweep when the horizon has moved this share of the retention period
COMPACT_MIN_DEAD_SLOTS = 100_000  # and more dead slots than live ones


@dataclass(slots=True, frozen=True)
class StoreState:
    """A point-in-time copy of the store, as snapshots persist it."""

    index_bytes: np.ndarray  # faiss.serialize_index output (uint8)
    records: list[PostRecord | None]  # by slot id; None for a deleted post's slot
    offsets: dict[int, int]
    deleted: dict[str, float] = field(default_factory=dict)  # post id -> stream time of its delete


@dataclass(slots=True, frozen=True)
class ApplyResult:
    """What one write batch changed."""

    added: int
    replaced: int
    deleted: int
    skipped: int = 0  # upserts refused: older version, deleted id, or past the retention horizon
    evicted: int = 0  # posts removed by retention


class PostStore:
    """Posts and their vectors, searchable by similarity within a creation-time window."""

    def __init__(self, dim: int, config: IndexConfig | None = None) -> None:
        self.dim = dim
        self._config = config or IndexConfig()
        self._index = ann.new_flat(dim)
        self._layout = ann.layout_of(self._index)
        self._lock = ReadWriteLock()
        self._writing = threading.Lock()  # serialises writers; a rebuild runs outside self._lock
        self._live_bits: np.ndarray | None = None  # packed self._live, cached between writes
        self._records: list[PostRecord | None] = []
        self._slot_of: dict[str, int] = {}
        self._created = np.zeros(1024, dtype=np.float64)
        self._live = np.zeros(1024, dtype=bool)
        self._offsets: dict[int, int] = {}
        self._deleted: dict[str, float] = {}
        self._stream_now = 0.0  # newest created_at seen (never past the wall clock + skew)
        self._swept_horizon = float("-inf")

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
        with self._writing:
            self._advance_stream_time(upserts)
            kept, vectors = self._admissible(upserts, vectors)
            result = self._apply(kept, vectors, deletes, offsets)
            evicted = self._maybe_evict()
            if not self._maybe_compact():
                self._maybe_rebuild()
        return replace(result, skipped=len(upserts) - len(kept), evicted=evicted)

    def admissible(
        self, upserts: Sequence[PostRecord], vectors: np.ndarray
    ) -> tuple[Sequence[PostRecord], np.ndarray]:
        """The upserts ``apply`` would write now, with their vectors (for derived views like stories)."""
        with self._writing:
            return self._admissible(upserts, vectors)

    def _advance_stream_time(self, upserts: Sequence[PostRecord]) -> None:
        if upserts:
            newest = max(record.created_at for record in upserts)
            self._stream_now = max(self._stream_now, min(newest, time.time() + MAX_CLOCK_SKEW_S))

    def _horizon(self) -> float | None:
        """Posts created before this are past retention (None: retention is off or nothing seen)."""
        if self._config.retention_s is None or not self._stream_now:
            return None
        return self._stream_now - self._config.retention_s

    def _admissible(
        self, upserts: Sequence[PostRecord], vectors: np.ndarray
    ) -> tuple[Sequence[PostRecord], np.ndarray]:
        """The upserts that may be written: not deleted, not expired, not older than what is held.

        Only the writer changes the fields read here, so no read lock is needed.
        """
        horizon = self._horizon()
        keep = []
        for i, record in enumerate(upserts):
            if record.post_id in self._deleted or (horizon is not None and record.created_at < horizon):
                continue
            slot = self._slot_of.get(record.post_id)
            held = None if slot is None else self._records[slot]
            if held is not None and held.version > record.version:
                continue
            keep.append(i)
        if len(keep) == len(upserts):
            return upserts, vectors
        return [upserts[i] for i in keep], vectors[keep]

    def _maybe_evict(self) -> int:
        """Drop posts and remembered deletes older than the horizon, each time it moved 1% of retention.

        Stepping on stream time (not the wall clock) keeps a fast replay as bounded as a live stream.
        """
        horizon = self._horizon()
        if horizon is None or horizon - self._swept_horizon < EVICT_STEP * (self._config.retention_s or 0):
            return 0
        self._swept_horizon = horizon
        self._deleted = {pid: at for pid, at in self._deleted.items() if at >= horizon}
        used = len(self._records)
        expired = np.flatnonzero(self._live[:used] & (self._created[:used] < horizon))
        if not expired.size:
            return 0
        post_ids = [record.post_id for slot in expired if (record := self._records[slot]) is not None]
        with self._lock.write():
            evicted = self._remove_slots(post_ids, forget=True)
        log.info("retention: evicted %d posts created before %.0f", evicted, horizon)
        return evicted

    def _apply(
        self,
        upserts: Sequence[PostRecord],
        vectors: np.ndarray,
        deletes: Sequence[str],
        offsets: Mapping[int, int] | None,
    ) -> ApplyResult:
        with self._lock.write():
            self._live_bits = None
            replaced = self._remove_slots([r.post_id for r in upserts], forget=False)
            added = len(upserts) - replaced
            if upserts:
                slots = np.array([self._claim_slot(r) for r in upserts], dtype=np.int64)
                self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), slots)
                self._layout = self._layout.grown(len(slots))
            deleted = self._remove_slots(deletes, forget=True)
            self._deleted.update(dict.fromkeys(deletes, self._stream_now or time.time()))
            if offsets:
                self._offsets.update(offsets)
        return ApplyResult(added=added, replaced=replaced, deleted=deleted)

    def search(
        self, query: np.ndarray, k: int, since: float | None = None, until: float | None = None
    ) -> list[SearchHit]:
        """Top-k live posts by cosine similarity, created within [since, until] (Unix s).

        Exact while the store is flat; approximate once it is IVF (``index/ann.py``).
        """
        with self._lock.read():
            candidates, bitmap = self._window(since, until)
            if not candidates or k <= 0:
                return []
            selector = None if bitmap is None else faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
            fraction = candidates / max(self._index.ntotal, 1)
            params = ann.search_params(self._index, selector, fraction, self._config.nprobe)
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
                deletes_remembered=len(self._deleted),
            )

    def export_state(self) -> StoreState:
        """Copy the FAISS index, metadata and offsets consistently (readers continue)."""
        with self._lock.read():
            return StoreState(
                faiss.serialize_index(self._index),
                list(self._records),
                dict(self._offsets),
                dict(self._deleted),
            )

    def restore(self, state: StoreState) -> None:
        """Replace everything with a previously exported state (flat or IVF, as it was exported)."""
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
        with self._writing, self._lock.write():
            self._index, self._layout = index, ann.layout_of(index)
            self._records = list(state.records)
            self._slot_of = slot_of
            self._created, self._live, self._live_bits = created, live, None
            self._offsets = dict(state.offsets)
            self._deleted = dict(state.deleted)
            held = created[:used][live[:used]]
            self._stream_now = float(held.max()) if held.size else max(state.deleted.values(), default=0.0)

    def _window(self, since: float | None, until: float | None) -> tuple[int, np.ndarray | None]:
        """Live posts in the window, and the slot bitmap to search (None: every indexed vector)."""
        used = len(self._records)
        if since is None and until is None:
            live = len(self._slot_of)
            if live == used:
                return live, None
            if self._live_bits is None:  # racing readers compute the same bits
                self._live_bits = np.packbits(self._live[:used], bitorder="little")
            return live, self._live_bits
        window = self._live[:used].copy()
        if since is not None:
            window &= self._created[:used] >= since
        if until is not None:
            window &= self._created[:used] <= until
        count = int(np.count_nonzero(window))
        return count, None if count == used else np.packbits(window, bitorder="little")

    def _maybe_compact(self) -> bool:
        """Renumber slots once most are dead (evicted or deleted), so memory tracks live posts.

        Slot ids are never reused, so without this a long run's per-slot arrays and
        record list would grow with every post ever seen.
        """
        used, live = len(self._records), len(self._slot_of)
        if used - live < max(COMPACT_MIN_DEAD_SLOTS, live):
            return False
        keep = np.array(sorted(self._slot_of.values()), dtype=np.int64)
        renumber = np.full(used, -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        nlist = ann.plan(self._config, live, self._layout)
        nlist = self._layout.nlist if nlist is None else nlist
        index = ann.rebuild(self._index, nlist, renumber=renumber)
        records = [self._records[slot] for slot in keep]
        created = np.zeros(max(1024, len(keep)), dtype=np.float64)
        created[: len(keep)] = self._created[keep]
        alive = np.zeros(len(created), dtype=bool)
        alive[: len(keep)] = True
        with self._lock.write():
            self._index, self._layout = index, ann.Layout(nlist, int(index.ntotal))
            self._records = records
            self._slot_of = {record.post_id: slot for slot, record in enumerate(records) if record}
            self._created, self._live, self._live_bits = created, alive, None
        ann.release_freed_memory()
        log.info("compacted the store: %d slots -> %d", used, len(keep))
        return True

    def _maybe_rebuild(self) -> None:
        """Move to the index ``ann.plan`` asks for; readers use the old one until the swap.

        Only the writer (holding ``self._writing``) changes the index, so reading it
        here without the write lock is safe.
        """
        nlist = ann.plan(self._config, len(self._slot_of), self._layout)
        if nlist is None:
            return
        try:
            index = ann.rebuild(self._index, nlist)
        except (RuntimeError, MemoryError):  # the old index still answers; try again after the next batch
            log.exception("cannot rebuild the index with nlist=%d; keeping the current one", nlist)
            return
        with self._lock.write():
            self._index, self._layout = index, ann.Layout(nlist, int(index.ntotal))
        ann.release_freed_memory()

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
        self._live_bits = None
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
