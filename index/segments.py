"""Time segments of the store, as in Twitter's Earlybird.

Slot ids are handed out in arrival order, so a segment is a contiguous range of
slots ``[first, first + capacity)`` with a FAISS index of its own (ids local to
the segment: ``slot - first``). New posts fill the newest, writable segment;
once full it is sealed and a new one opens. A sealed segment still takes
deletes and in-place replacements of its posts, but never grows, so its IVF
layout is trained once.

What this buys:

- retention drops a whole segment once its newest post is past the horizon
  (its vectors are freed at once; no ``remove_ids`` over a large index);
- a time-windowed search skips segments outside the window, and builds its
  id-selector bitmap over one segment's slots rather than the whole store;
- each segment's index stays small enough to train, rebuild and snapshot quickly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np

from index import ann
from index.faiss_gpu import GpuReplicas


@dataclass(slots=True, eq=False)  # compared by identity
class Segment:
    """One range of slots and the FAISS index of their vectors."""

    first: int  # its first slot id
    capacity: int  # slots it may hold; sealed once ``end`` reaches ``first + capacity``
    index: faiss.Index  # ids are local: slot - first
    layout: ann.Layout
    end: int  # the next slot it would hand out
    live: int = 0  # posts it holds (its index's ntotal)
    oldest: float = math.inf  # created_at bounds of its posts; only ever too wide after removals
    newest: float = -math.inf
    tag: str | None = None  # names its content as last exported; None once it changed since
    replica: faiss.Index | None = None  # GPU copy of ``index`` (index/faiss_gpu.py); None: none or stale

    @classmethod
    def empty(cls, first: int, capacity: int, dim: int) -> Segment:
        index = ann.new_flat(dim)
        return cls(first, capacity, index, ann.layout_of(index), end=first)

    @property
    def sealed(self) -> bool:
        return self.end >= self.first + self.capacity

    def covered_by(self, since: float | None, until: float | None) -> bool:
        """Every post of the segment is inside [since, until]."""
        return (since is None or self.oldest >= since) and (until is None or self.newest <= until)

    def overlaps(self, since: float | None, until: float | None) -> bool:
        """Some post of the segment may be inside [since, until]."""
        after_since = since is None or self.newest >= since
        return self.live > 0 and after_since and (until is None or self.oldest <= until)

    def add(
        self, slots: np.ndarray, vectors: np.ndarray, created: np.ndarray, gpu: GpuReplicas | None = None
    ) -> None:
        vectors = np.ascontiguousarray(vectors, np.float32)
        self.index.add_with_ids(vectors, slots - self.first)
        if self.replica is not None and not (gpu and gpu.add(self.replica, vectors, slots - self.first)):
            self.replica = None
        self.tag = None
        self.layout = self.layout.grown(len(slots))
        self.live += len(slots)
        self.oldest = min(self.oldest, float(created.min()))
        self.newest = max(self.newest, float(created.max()))

    def remove(self, slots: np.ndarray) -> None:
        self.index.remove_ids(slots - self.first)
        self.replica = None  # a GPU index cannot remove; the next unfiltered search copies afresh
        self.tag = None
        self.live -= len(slots)

    def search(
        self,
        query: np.ndarray,
        k: int,
        bitmap: np.ndarray | None,
        candidates: int,
        nprobe: int,
        gpu: GpuReplicas | None = None,
    ) -> list[tuple[float, int]]:
        """(score, slot) of the top ``k`` among ``candidates`` posts the local-id ``bitmap`` admits.

        Without a bitmap, and with ``gpu``, the segment's GPU copy answers (made now if
        it has none); a GPU failure falls back to the CPU index.
        """
        selector = None if bitmap is None else faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        params = ann.search_params(self.index, selector, candidates / max(self.index.ntotal, 1), nprobe)
        found = self._search_gpu(gpu, query, min(k, candidates), params) if selector is None else None
        scores, local = found or self.index.search(query, min(k, candidates), params=params)
        return [
            (float(score), self.first + int(slot))
            for score, slot in zip(scores[0], local[0], strict=True)
            if slot >= 0
        ]

    def _search_gpu(
        self, gpu: GpuReplicas | None, query: np.ndarray, k: int, params: faiss.SearchParameters | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if gpu is None or not gpu.enabled or not self.live:
            return None
        if self.replica is None:
            self.replica = gpu.copy(self.index)  # readers may race here: each makes a whole copy
            if self.replica is None:
                return None
        found = gpu.search(self.replica, query, k, params)
        if found is None:
            self.replica = None
        return found


def segment_of(segments: list[Segment], slot: int) -> Segment:
    """The segment holding ``slot`` (segments are sorted by ``first``)."""
    low, high = 0, len(segments)
    while low < high:  # the last segment whose first slot is <= slot
        middle = (low + high) // 2
        if segments[middle].first <= slot:
            low = middle + 1
        else:
            high = middle
    if low == 0 or slot >= segments[low - 1].end:
        raise KeyError(f"slot {slot} is in no segment")
    return segments[low - 1]


def by_segment(segments: list[Segment], slots: np.ndarray) -> list[tuple[Segment, np.ndarray]]:
    """Group slots by the segment that holds them."""
    if not len(slots):
        return []
    order = np.argsort(slots, kind="stable")
    groups: list[tuple[Segment, list[int]]] = []
    for position in order:
        slot = int(slots[position])
        if not groups or slot >= groups[-1][0].end:
            groups.append((segment_of(segments, slot), []))
        groups[-1][1].append(int(position))
    return [(segment, np.asarray(positions, dtype=np.int64)) for segment, positions in groups]
