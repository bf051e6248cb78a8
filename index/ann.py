"""Which FAISS index the store searches, when to (re)train it, and how to search it.

Two layouts for a segment's index (``index/segments.py``), both keyed by int64 ids
(the segment's local slot ids), both supporting ``remove_ids`` and id-selector
filtering (so upserts, tombstones and time windows work the same):

- flat: ``IndexIDMap2(IndexFlatIP)``, exact float32; a query reads every vector (~N·d).
- ivf: ``IndexIVFScalarQuantizer`` (inner product, fp16 codes, no residual, flat
  coarse quantizer) holding the slot ids in its inverted lists; a query reads
  ``nprobe`` of ``nlist`` lists. fp16 rather than IVFFlat's float32 because inverted
  lists grow like ``std::vector`` and glibc keeps the slack resident: float32 lists
  measured 2,130 B/post (vs 1,630 flat) and would break the 2.5 GB budget at 1M
  posts; fp16 lists take ~1,000 B/post and change cosine scores by < 1e-3. A flat
  quantizer (not HNSW) because at nlist ≤ 4096 it costs well under a millisecond per
  query (``bench/search_latency.py`` measures it).

Policy (``IndexConfig.ann``), for each segment on its own live posts:

- ``flat``: always exact.
- ``auto``: exact below ``ann_min_posts`` live posts, then IVF; back to exact below half of it.
- ``ivf``: IVF as soon as there are ``MIN_TRAIN_POSTS`` posts to train on.

An IVF index is retrained on the live vectors, by the writer, once as many vectors
have been added since its training as it was trained with (the segment doubled, or
half its content is new). That keeps ``nlist`` near ``2·√N`` as the segment grows and
re-centres the lists on the current topics. Readers keep searching the old index
while the new one is built (peak memory: two copies of the vectors).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from collections.abc import Iterator
from dataclasses import dataclass

import faiss
import numpy as np

from index.config import IndexConfig

MIN_TRAIN_POSTS = 1_000
MIN_POINTS_PER_LIST = 39  # below this faiss's k-means warns and the centroids are poor
TRAIN_POINTS_PER_LIST = 64  # k-means sample; its cost is sample · nlist · d per iteration
CHUNK = 16_384
SEALED_RETRAIN_RATIO = 0.25  # a sealed segment retrains once this share was added since its training


@dataclass(slots=True, frozen=True)
class Layout:
    """The index the store holds: ``nlist`` 0 means flat; ``trained_with`` vectors it was built on."""

    nlist: int
    trained_with: int
    added: int = 0  # vectors added since it was built

    def grown(self, added: int) -> Layout:
        return Layout(self.nlist, self.trained_with, self.added + added)


def new_flat(dim: int) -> faiss.Index:
    """An empty exact index."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def layout_of(index: faiss.Index) -> Layout:
    """Describe an index (e.g. one just restored from a snapshot)."""
    ivf = _ivf(index)
    return Layout(ivf.nlist if ivf is not None else 0, int(index.ntotal))


def nlist_for(posts: int, wanted: int | None = None) -> int:
    """``wanted`` lists, or a power of two near 2·√posts, but never too few posts per list to train."""
    wanted = wanted or 2 ** round(math.log2(max(2 * math.sqrt(posts), 1)))
    trainable = 2 ** int(math.log2(max(posts // MIN_POINTS_PER_LIST, 1)))
    return max(1, min(wanted, trainable, 65_536))


def plan(config: IndexConfig, live: int, layout: Layout, sealed: bool = False) -> int | None:
    """The nlist to rebuild with (0: flat), or None to keep the current index.

    A sealed segment no longer grows, so it is retrained once more, on all it holds,
    when a meaningful share of it came after its last training.
    """
    if not _wants_ivf(config, live, layout):
        return 0 if layout.nlist else None
    nlist = nlist_for(live, config.nlist)
    ratio = SEALED_RETRAIN_RATIO if sealed else config.retrain_ratio
    if layout.nlist == 0 or layout.added >= ratio * max(layout.trained_with, 1):
        return nlist
    return None


def rebuild(index: faiss.Index, nlist: int, seed: int = 0) -> faiss.Index:
    """A new index (flat when nlist is 0) with the same vectors and ids; ``index`` is only read."""
    if nlist == 0:
        fresh = new_flat(index.d)
    else:
        quantizer = faiss.IndexFlatIP(index.d)  # the Python wrapper keeps it alive with the index
        fresh = faiss.IndexIVFScalarQuantizer(
            quantizer, index.d, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT, False
        )
        fresh.cp.seed = seed
        fresh.train(_sample(index, TRAIN_POINTS_PER_LIST * nlist, seed))
    for ids, vectors in _chunks(index):
        fresh.add_with_ids(vectors, ids)
    return fresh


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS after a rebuild dropped the old index.

    glibc keeps the old inverted lists' pages (small per-list buffers live in the
    heap, not in their own mappings), which left RSS at the rebuild's peak.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


def segment_probes(nprobe: int, segment_nlist: int, store_nlist: int) -> int:
    """Lists a segment probes so that all segments together scan about what one index would.

    ``nprobe`` is meant for one index over the whole store (``store_nlist`` lists); a
    segment with fewer lists probes the same share of them, at least one.
    """
    return max(1, math.ceil(nprobe * min(1.0, segment_nlist / max(store_nlist, 1))))


def search_params(
    index: faiss.Index, selector: faiss.IDSelector | None, fraction: float, nprobe: int
) -> faiss.SearchParameters | None:
    """Search parameters for ``index``.

    ``fraction`` is the share of indexed vectors the selector admits: IVF probes
    ``nprobe / fraction`` lists so that a narrow time window still meets about as
    many candidates as an unfiltered search, up to all lists (then it is exact).
    """
    ivf = _ivf(index)
    if ivf is None:
        return None if selector is None else faiss.SearchParameters(sel=selector)
    probes = min(ivf.nlist, math.ceil(nprobe / max(fraction, 1e-9)))
    if selector is None:
        return faiss.SearchParametersIVF(nprobe=probes)
    return faiss.SearchParametersIVF(sel=selector, nprobe=probes)


def _wants_ivf(config: IndexConfig, live: int, layout: Layout) -> bool:
    if config.ann == "flat" or live < MIN_TRAIN_POSTS:
        return False
    if config.ann == "ivf":
        return True
    # hysteresis: a store hovering around the threshold must not flip at every batch
    return live >= (config.ann_min_posts // 2 if layout.nlist else config.ann_min_posts)


def _ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    return faiss.try_extract_index_ivf(index)


def _chunks(index: faiss.Index) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of every indexed vector, a chunk at a time (never all at once)."""
    ivf = _ivf(index)
    if ivf is None:
        ids = faiss.vector_to_array(index.id_map)
        for start in range(0, len(ids), CHUNK):
            stop = min(start + CHUNK, len(ids))
            yield ids[start:stop], index.index.reconstruct_n(start, stop - start)
        return
    lists = ivf.invlists
    batch_ids: list[np.ndarray] = []
    batch_codes: list[np.ndarray] = []
    size = 0
    for list_no in range(ivf.nlist):
        ids, codes = _invlist(lists, list_no)
        batch_ids.append(ids)
        batch_codes.append(codes)
        size += len(ids)
        if size >= CHUNK or list_no == ivf.nlist - 1:
            yield np.concatenate(batch_ids), _decode(index, np.concatenate(batch_codes))
            batch_ids, batch_codes, size = [], [], 0


def _invlist(lists: faiss.InvertedLists, list_no: int) -> tuple[np.ndarray, np.ndarray]:
    size = lists.list_size(list_no)
    ids = np.empty(size, dtype=np.int64)
    codes = np.empty((size, lists.code_size), dtype=np.uint8)
    if size:
        list_ids, list_codes = lists.get_ids(list_no), lists.get_codes(list_no)
        faiss.memcpy(faiss.swig_ptr(ids), list_ids, ids.nbytes)
        faiss.memcpy(faiss.swig_ptr(codes), list_codes, codes.nbytes)
        lists.release_ids(list_no, list_ids)
        lists.release_codes(list_no, list_codes)
    return ids, codes


def _decode(index: faiss.Index, codes: np.ndarray) -> np.ndarray:
    sq = getattr(faiss.downcast_index(index), "sq", None)
    return sq.decode(codes) if sq is not None else codes.view(np.float32).reshape(len(codes), -1)


def _sample(index: faiss.Index, count: int, seed: int) -> np.ndarray:
    """About ``count`` vectors drawn uniformly from the index, for k-means."""
    share = min(1.0, count / max(index.ntotal, 1))
    rng = np.random.default_rng(seed)
    picked = [vectors[rng.random(len(vectors)) < share] for _, vectors in _chunks(index)]
    return np.ascontiguousarray(np.concatenate(picked))
