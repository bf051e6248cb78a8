"""The vector store: FAISS inner product over normalised vectors, plus post metadata.

Each post gets an int64 slot id in arrival order. Slots are grouped into time
segments (``index/segments.py``, like Earlybird's): the newest segment takes new
posts and is sealed when full; each has its own FAISS index, exact or, once it
is large, approximate (``index/ann.py`` picks and retrains it). Metadata,
creation times and liveness are kept per slot, so a time window skips segments
outside it and becomes an id-selector bitmap over the one or two it cuts. One
writer (ingest) and many readers (API) share the store through a readers-writer
lock.

Writes are idempotent and order-tolerant: an upsert older (by version) than the
post it would replace is skipped, a deleted id stays deleted (post ids are never
reused, so a late or replayed post is not resurrected), and posts created more
than ``retention_s`` before the newest post seen are evicted: whole segments are
dropped, and the few expired posts of a segment that straddles the horizon are
removed one by one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import faiss
import numpy as np

from index import ann
from index.config import IndexConfig
from index.faiss_gpu import GpuReplicas, replicas_for
from index.records import IndexStats, PostRecord, SearchHit
from index.rwlock import ReadWriteLock
from index.segments import Segment, by_segment

log = logging.getLogger(__name__)
# A created_at this far past the wall clock does not move stream time (it would evict everything).
MAX_CLOCK_SKEW_S = 300.0
EVICT_STEP = 0.01  # sweep when the horizon has moved this share of the retention period


@dataclass(slots=True, frozen=True)
class SegmentState:
    """One segment as snapshots persist it.

    ``tag`` names its content: it changes whenever the segment does, so a snapshot
    writer that already has a segment's files under this tag reuses them. Then
    ``index_bytes`` and ``records`` are None (not exported).
    """

    first: int
    end: int
    capacity: int
    tag: str
    index_bytes: np.ndarray | None  # faiss.serialize_index output (uint8), local ids
    records: list[PostRecord | None] | None  # slots first..end-1; None for a dead slot

    @property
    def exported(self) -> bool:
        return self.index_bytes is not None and self.records is not None


@dataclass(slots=True, frozen=True)
class StoreState:
    """A point-in-time copy of the store, as snapshots persist it."""

    segments: list[SegmentState]
    offsets: dict[int, int]
    deleted: dict[str, float] = field(default_factory=dict)  # post id -> stream time of its delete

    @property
    def records(self) -> list[PostRecord | None]:
        """Every exported segment's records, oldest first."""
        return [record for segment in self.segments for record in segment.records or ()]

    @property
    def vectors(self) -> int:
        return sum(faiss.deserialize_index(s.index_bytes).ntotal for s in self.segments if s.exported)


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

    def __init__(
        self,
        dim: int,
        config: IndexConfig | None = None,
        gpu: GpuReplicas | Literal["config"] | None = "config",
    ) -> None:
        """``gpu``: copies of the segments on a GPU (``index/faiss_gpu.py``); by default as configured."""
        self.dim = dim
        self._config = config or IndexConfig()
        self._gpu = replicas_for(self._config.faiss_device) if gpu == "config" else gpu
        self._lock = ReadWriteLock()
        self._writing = threading.Lock()  # serialises writers; a rebuild runs outside self._lock
        self._segments: list[Segment] = []
        self._base = 0  # slot id of self._records[0] (and of row 0 of the per-slot arrays)
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
            held = self._record_of(record.post_id)
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
        expired = [s for s in self._segments if s.newest < horizon or (s.sealed and not s.live)]
        straddling = [s for s in self._segments if s.oldest < horizon and s not in expired]
        with self._lock.write():
            dropped = sum(self._drop(segment) for segment in expired)
            swept = sum(self._sweep(segment, horizon) for segment in straddling)
            self._rebase()
        if expired:
            ann.release_freed_memory()
        if dropped or swept:
            log.info(
                "retention: dropped %d segments (%d posts) and %d more posts, created before %.0f",
                len(expired), dropped, swept, horizon,
            )  # fmt: skip
        return dropped + swept

    def _drop(self, segment: Segment) -> int:
        """Forget a whole segment: its index is freed, its slots' records cleared."""
        rows = slice(segment.first - self._base, segment.end - self._base)
        live_rows = np.flatnonzero(self._live[rows]) + rows.start
        for row in live_rows:
            record = self._records[row]
            self._records[row] = None
            if record is not None:
                del self._slot_of[record.post_id]
        self._live[rows] = False
        self._segments = [kept for kept in self._segments if kept is not segment]
        return len(live_rows)

    def _sweep(self, segment: Segment, horizon: float) -> int:
        """Remove a segment's posts created before ``horizon``; tighten its time bounds."""
        rows = slice(segment.first - self._base, segment.end - self._base)
        live = self._live[rows]
        expired = np.flatnonzero(live & (self._created[rows] < horizon)) + segment.first
        removed = self._remove_slots([self._records[s - self._base].post_id for s in expired], forget=True)
        held = self._created[rows][self._live[rows]]
        if held.size:
            segment.oldest, segment.newest = float(held.min()), float(held.max())
        return removed

    def _rebase(self) -> None:
        """Release the per-slot rows in front of the first segment (dropped segments' slots)."""
        first = self._segments[0].first if self._segments else self._base + len(self._records)
        shift = first - self._base
        if shift <= 0:
            return
        used = len(self._records) - shift
        capacity = max(1024, 2 * used)
        self._created = _moved(self._created, shift, used, capacity)
        self._live = _moved(self._live, shift, used, capacity)
        del self._records[:shift]
        self._base = first

    def _apply(
        self,
        upserts: Sequence[PostRecord],
        vectors: np.ndarray,
        deletes: Sequence[str],
        offsets: Mapping[int, int] | None,
    ) -> ApplyResult:
        with self._lock.write():
            replaced = self._remove_slots([r.post_id for r in upserts], forget=False)
            if upserts:
                slots = np.array([self._claim_slot(r) for r in upserts], dtype=np.int64)
                created = self._created[slots - self._base]
                for segment, positions in by_segment(self._segments, slots):
                    segment.add(slots[positions], vectors[positions], created[positions], self._gpu)
            deleted = self._remove_slots(deletes, forget=True)
            self._deleted.update(dict.fromkeys(deletes, self._stream_now or time.time()))
            if offsets:
                self._offsets.update(offsets)
        return ApplyResult(added=len(upserts) - replaced, replaced=replaced, deleted=deleted)

    def search(
        self, query: np.ndarray, k: int, since: float | None = None, until: float | None = None
    ) -> list[SearchHit]:
        """Top-k live posts by cosine similarity, created within [since, until] (Unix s).

        Each segment the window reaches is searched, exactly while it is flat and
        approximately once it is IVF (``index/ann.py``; together the segments probe
        about the share of lists one store-wide index would), and the best k are kept.
        """
        if k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), np.float32)
        with self._lock.read():
            store_nlist = ann.nlist_for(len(self._slot_of), self._config.nlist)
            found: list[tuple[float, int]] = []
            for segment in self._segments:
                if not segment.overlaps(since, until):
                    continue
                candidates, bitmap = self._window(segment, since, until)
                if candidates:
                    nprobe = ann.segment_probes(self._config.nprobe, segment.layout.nlist, store_nlist)
                    found.extend(segment.search(query, k, bitmap, candidates, nprobe, self._gpu))
            found.sort(key=lambda hit: -hit[0])
            return [
                SearchHit(post=record, score=score)
                for score, slot in found[:k]
                if (record := self._records[slot - self._base]) is not None
            ]

    def get(self, post_id: str) -> PostRecord | None:
        """The live post with this id, or None."""
        with self._lock.read():
            return self._record_of(post_id)

    def stats(self) -> IndexStats:
        """Size, time span and applied offsets, read consistently."""
        with self._lock.read():
            used = len(self._records)
            live = self._created[:used][self._live[:used]]
            return IndexStats(
                posts=len(self._slot_of),
                vectors=sum(int(segment.index.ntotal) for segment in self._segments),
                newest_created_at=float(live.max()) if live.size else None,
                oldest_created_at=float(live.min()) if live.size else None,
                applied_offsets=dict(self._offsets),
                deletes_remembered=len(self._deleted),
                segments=len(self._segments),
            )

    def export_state(self, have: Container[str] = ()) -> StoreState:
        """Copy the FAISS indexes, metadata and offsets consistently (readers continue).

        Segments whose tag is in ``have`` (files the caller already wrote) are not copied.
        """
        with self._lock.read():
            segments = []
            for segment in self._segments:
                segment.tag = segment.tag or uuid.uuid4().hex  # changed since the last export
                if segment.tag in have:
                    segments.append(
                        SegmentState(segment.first, segment.end, segment.capacity, segment.tag, None, None)
                    )
                    continue
                rows = slice(segment.first - self._base, segment.end - self._base)
                index_bytes = faiss.serialize_index(segment.index)
                saved = SegmentState(
                    segment.first,
                    segment.end,
                    segment.capacity,
                    segment.tag,
                    index_bytes,
                    self._records[rows],
                )
                segments.append(saved)
            return StoreState(segments, dict(self._offsets), dict(self._deleted))

    def restore(self, state: StoreState) -> None:
        """Replace everything with a previously exported state (each segment flat or IVF, as exported).

        Raises:
            ValueError: a segment was not exported, or does not fit this store.
        """
        if not all(saved.exported for saved in state.segments):
            raise ValueError("cannot restore a state with segments left out")
        base = state.segments[0].first if state.segments else 0
        used = state.segments[-1].end - base if state.segments else 0
        records: list[PostRecord | None] = [None] * used
        for saved in state.segments:
            records[saved.first - base : saved.end - base] = saved.records
        created = np.zeros(max(1024, used), dtype=np.float64)
        live = np.zeros(max(1024, used), dtype=bool)
        slot_of = {}
        for row, record in enumerate(records):
            if record is not None:
                slot_of[record.post_id] = base + row
                created[row] = record.created_at
                live[row] = True
        segments = [_restored(saved, base, created, live, self.dim) for saved in state.segments]
        with self._writing, self._lock.write():
            self._segments, self._base = segments, base
            self._records = records
            self._slot_of = slot_of
            self._created, self._live = created, live
            self._offsets = dict(state.offsets)
            self._deleted = dict(state.deleted)
            held = created[:used][live[:used]]
            self._stream_now = float(held.max()) if held.size else max(state.deleted.values(), default=0.0)

    def layouts(self) -> list[ann.Layout]:
        """Each segment's index layout, oldest segment first (for benchmarks and tests)."""
        with self._lock.read():
            return [segment.layout for segment in self._segments]

    def _window(
        self, segment: Segment, since: float | None, until: float | None
    ) -> tuple[int, np.ndarray | None]:
        """Posts of ``segment`` in the window, and the local-id bitmap to search (None: all of it).

        A segment's index holds exactly its live posts, so only a window that cuts
        it needs a bitmap.
        """
        if segment.covered_by(since, until):
            return segment.live, None
        rows = slice(segment.first - self._base, segment.end - self._base)
        window = self._live[rows].copy()
        if since is not None:
            window &= self._created[rows] >= since
        if until is not None:
            window &= self._created[rows] <= until
        count = int(np.count_nonzero(window))
        return count, None if count == segment.live else np.packbits(window, bitorder="little")

    def _maybe_rebuild(self) -> None:
        """Move each segment to the index ``ann.plan`` asks for; readers use the old one until the swap.

        Only the writer (holding ``self._writing``) changes the indexes, so reading
        them here without the write lock is safe.
        """
        for segment in list(self._segments):
            nlist = ann.plan(self._config, segment.live, segment.layout, sealed=segment.sealed)
            if nlist is None:
                continue
            try:
                index = ann.rebuild(segment.index, nlist)
            except (RuntimeError, MemoryError):  # the old index still answers; try again after the next batch
                log.exception("cannot rebuild a segment with nlist=%d; keeping its current index", nlist)
                continue
            with self._lock.write():
                segment.index, segment.layout = index, ann.Layout(nlist, int(index.ntotal))
                segment.tag, segment.replica = None, None
            ann.release_freed_memory()

    def _record_of(self, post_id: str) -> PostRecord | None:
        slot = self._slot_of.get(post_id)
        return None if slot is None else self._records[slot - self._base]

    def _writable(self) -> Segment:
        """The segment new posts go to: the newest, unless it is full."""
        if not self._segments or self._segments[-1].sealed:
            first = self._base + len(self._records)
            self._segments.append(Segment.empty(first, self._config.segment_posts, self.dim))
        return self._segments[-1]

    def _claim_slot(self, record: PostRecord) -> int:
        slot = self._slot_of.get(record.post_id)
        if slot is None:
            segment = self._writable()
            slot, segment.end = segment.end, segment.end + 1
            self._records.append(None)
            self._grow(len(self._records))
            self._slot_of[record.post_id] = slot
        row = slot - self._base
        self._records[row] = record
        self._created[row] = record.created_at
        self._live[row] = True
        return slot

    def _remove_slots(self, post_ids: Sequence[str], *, forget: bool) -> int:
        held = [slot for pid in dict.fromkeys(post_ids) if (slot := self._slot_of.get(pid)) is not None]
        slots = np.array(held, dtype=np.int64)
        for segment, positions in by_segment(self._segments, slots):
            segment.remove(slots[positions])
        rows = slots - self._base
        self._live[rows] = False
        if forget:
            for row in rows:
                record = self._records[row]
                self._records[row] = None
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


def _moved(array: np.ndarray, shift: int, used: int, capacity: int) -> np.ndarray:
    """``array[shift:shift + used]`` at the start of a fresh zeroed array of ``capacity`` rows."""
    moved = np.zeros(capacity, dtype=array.dtype)
    moved[:used] = array[shift : shift + used]
    return moved


def _restored(saved: SegmentState, base: int, created: np.ndarray, live: np.ndarray, dim: int) -> Segment:
    index = faiss.deserialize_index(saved.index_bytes)
    if saved.end - saved.first != len(saved.records or ()):
        raise ValueError(
            f"segment at slot {saved.first} has {len(saved.records or ())} records for its slots"
        )
    if index.d != dim:
        raise ValueError(f"state has dimension {index.d}, store has {dim}")
    rows = slice(saved.first - base, saved.end - base)
    held = created[rows][live[rows]]
    if len(held) != index.ntotal:
        raise ValueError(f"segment at slot {saved.first} has {index.ntotal} vectors for {len(held)} posts")
    return Segment(
        saved.first,
        saved.capacity,
        index,
        ann.layout_of(index),
        end=saved.end,
        live=len(held),
        oldest=float(held.min()) if held.size else float("inf"),
        newest=float(held.max()) if held.size else float("-inf"),
        tag=saved.tag,
    )


def _last_per_id(
    upserts: Sequence[PostRecord], vectors: np.ndarray
) -> tuple[Sequence[PostRecord], np.ndarray]:
    """Keep only the last upsert of each post id, so one batch never adds two vectors."""
    last = {record.post_id: i for i, record in enumerate(upserts)}
    if len(last) == len(upserts):
        return upserts, vectors
    keep = sorted(last.values())
    return [upserts[i] for i in keep], vectors[keep]
