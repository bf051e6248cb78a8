import threading
import time

import numpy as np
import pytest

from index.config import IndexConfig
from index.records import PostRecord
from index.store import PostStore

DIM = 8


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def record(post_id: str, created_at: float = 0.0, text: str = "t") -> PostRecord:
    return PostRecord(post_id=post_id, text=text, author="a", created_at=created_at)


@pytest.fixture
def store() -> PostStore:
    store = PostStore(DIM)
    posts = [record(str(i), created_at=100.0 * i) for i in range(10)]
    store.apply(posts, np.stack([unit(i) for i in range(10)]), offsets={0: 10})
    return store


def test_search_returns_the_nearest_post_first(store):
    hits = store.search(unit(3), k=3)
    assert hits[0].post.post_id == "3"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 3


def test_time_window_is_honoured(store):
    hits = store.search(unit(3), k=10, since=450, until=750)
    assert sorted(h.post.post_id for h in hits) == ["5", "6", "7"]
    assert store.search(unit(3), k=5, since=5_000) == []


def test_upsert_replaces_instead_of_adding(store):
    result = store.apply([record("3", 300, text="edited")], unit(99)[None, :])
    assert (result.added, result.replaced) == (0, 1)
    assert len(store) == 10
    assert store.stats().vectors == 10
    assert store.get("3").text == "edited"
    assert store.search(unit(99), k=1)[0].post.post_id == "3"


def test_duplicate_ids_in_one_batch_keep_the_last(store):
    store.apply([record("x", text="first"), record("x", text="second")], np.stack([unit(1), unit(2)]))
    assert store.stats().vectors == 11
    assert store.get("x").text == "second"


def test_delete_removes_vector_and_metadata(store):
    assert store.apply([], np.empty((0, DIM), np.float32), deletes=["3", "unknown"]).deleted == 1
    assert store.get("3") is None
    assert all(h.post.post_id != "3" for h in store.search(unit(3), k=10))
    assert len(store) == 9 and store.stats().vectors == 9


def test_stats_and_offsets(store):
    stats = store.stats()
    assert stats.posts == 10
    assert (stats.oldest_created_at, stats.newest_created_at) == (0.0, 900.0)
    assert stats.applied_offsets == {0: 10}


def test_mismatched_vectors_are_rejected(store):
    with pytest.raises(ValueError, match="2 upserts but 1 vectors"):
        store.apply([record("a"), record("b")], unit(1)[None, :])


def test_concurrent_readers_and_a_writer_stay_consistent(store):
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(200):
                for hit in store.search(unit(1), k=5):
                    assert store.get(hit.post.post_id) is not None or hit.post.post_id.startswith("w")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for i in range(100):
        store.apply([record(f"w{i}")], unit(1000 + i)[None, :], deletes=[f"w{i - 1}"])
    for thread in readers:
        thread.join()
    assert not errors
    assert len(store) == 11


def test_an_older_version_never_overwrites_a_newer_one(store):
    newer = PostRecord(post_id="3", text="edit 2", author="a", created_at=300.0, edited_at=500.0, offset=7)
    older = PostRecord(post_id="3", text="edit 1", author="a", created_at=300.0, edited_at=400.0, offset=9)
    store.apply([newer], unit(30)[None])
    result = store.apply([older], unit(31)[None])
    assert result.skipped == 1 and store.get("3").text == "edit 2"
    replayed = store.apply([newer], unit(30)[None])  # the same version again: idempotent
    assert replayed.replaced == 1 and store.stats().vectors == 10


def test_a_delete_that_arrives_before_its_post_keeps_it_out(store):
    store.apply([], np.empty((0, DIM), np.float32), deletes=["late"])
    result = store.apply([record("late", created_at=950.0)], unit(40)[None])
    assert result.skipped == 1 and store.get("late") is None
    store.apply([], np.empty((0, DIM), np.float32), deletes=["4"])
    store.apply([record("4", created_at=400.0)], unit(4)[None])  # a replayed post stays deleted
    assert store.get("4") is None and store.stats().deletes_remembered == 2


def test_retention_evicts_posts_past_the_horizon_and_refuses_expired_ones():
    store = PostStore(DIM, IndexConfig(retention_s=700.0))
    store.apply(
        [record(str(i), created_at=100.0 * i) for i in range(5)], np.stack([unit(i) for i in range(5)])
    )
    result = store.apply([record("late", created_at=1_000.0)], unit(9)[None])
    assert result.evicted == 3  # created 0, 100, 200 are older than 1000 - 700
    assert sorted(h.post.post_id for h in store.search(unit(9), k=10)) == ["3", "4", "late"]
    assert store.apply([record("old", created_at=100.0)], unit(8)[None]).skipped == 1
    assert store.stats().vectors == 3


def test_a_future_timestamp_does_not_evict_everything():
    store = PostStore(DIM, IndexConfig(retention_s=3_600.0))
    now = time.time()
    store.apply([record("now", created_at=now)], unit(1)[None])
    store.apply([record("bogus", created_at=now + 10 * 86_400)], unit(2)[None])
    assert store.get("now") is not None


def test_restore_keeps_remembered_deletes(store):
    store.apply([], np.empty((0, DIM), np.float32), deletes=["1", "never-seen"])
    restored = PostStore(DIM)
    restored.restore(store.export_state())
    restored.apply([record("never-seen", created_at=900.0)], unit(50)[None])
    assert restored.get("never-seen") is None and restored.get("1") is None


def segmented(segment_posts: int = 4, **config) -> PostStore:
    return PostStore(DIM, IndexConfig(segment_posts=segment_posts, ann="flat", **config))


def fill(store: PostStore, stop: int, start: int = 0):
    """Posts ``start..stop-1``, post i created at 100·i s with vector unit(i)."""
    ids = range(start, stop)
    return store.apply([record(str(i), created_at=100.0 * i) for i in ids], np.stack([unit(i) for i in ids]))


def test_a_full_segment_is_sealed_and_search_merges_across_segments():
    store = segmented()
    fill(store, 10)
    assert store.stats().segments == 3 and store.stats().vectors == 10  # 4 + 4 + 2
    hits = store.search(unit(5), k=10)
    assert len(hits) == 10 and hits[0].post.post_id == "5"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # a window across a segment boundary (slots 3 | 4, 5) and one inside a single segment
    window = store.search(unit(4), k=10, since=300, until=500)
    assert sorted(h.post.post_id for h in window) == ["3", "4", "5"]
    assert [h.post.post_id for h in store.search(unit(9), k=10, since=850)] == ["9"]


def test_a_post_in_a_sealed_segment_is_replaced_in_place_and_deleted_from_it():
    store = segmented()
    fill(store, 8)
    store.apply([record("1", created_at=100.0, text="edited")], unit(77)[None])
    assert store.stats().segments == 2 and store.stats().vectors == 8
    assert store.search(unit(77), k=1)[0].post.text == "edited"
    store.apply([], np.empty((0, DIM), np.float32), deletes=["2"])
    assert store.stats().vectors == 7 and "2" not in {h.post.post_id for h in store.search(unit(2), k=8)}


def test_retention_drops_whole_segments_and_releases_their_slots():
    store = segmented(retention_s=100.0)
    for step in range(10):  # each batch is 100 s newer, so the one before it expires
        batch = [record(f"{step}-{i}", created_at=100.0 * step + i) for i in range(8)]
        store.apply(batch, np.stack([unit(100 * step + i) for i in range(8)]))
    assert len(store._records) <= 16  # without dropping segments: 80 slots, most of them dead
    assert store.stats().segments <= 4
    hits = store.search(unit(903), k=1)
    assert hits[0].post.post_id == "9-3" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert store.get("9-7").created_at == 907.0 and store.stats().vectors == len(store)
    assert store.get("7-0") is None and store.stats().oldest_created_at >= 800.0


def test_a_straddling_segment_loses_only_its_expired_posts():
    store = segmented(segment_posts=100, retention_s=500.0)
    fill(store, 5)
    result = fill(store, 10, start=5)
    assert result.evicted == 4 and store.stats().segments == 1  # created 0..300 are before 900 - 500
    assert sorted(h.post.post_id for h in store.search(unit(0), k=10)) == ["4", "5", "6", "7", "8", "9"]
    assert store.stats().vectors == 6


def test_restore_keeps_segments_and_new_posts_continue_after_them():
    store = segmented()
    fill(store, 6)
    restored = segmented()
    restored.restore(store.export_state())
    assert restored.stats() == store.stats()
    assert [x.nlist for x in restored.layouts()] == [x.nlist for x in store.layouts()]
    restored.apply([record("new", created_at=700.0)], unit(60)[None])
    assert restored.stats().segments == 2 and restored.search(unit(60), k=1)[0].post.post_id == "new"
    assert restored.search(unit(4), k=1)[0].post.post_id == "4"


def test_admissible_tells_derived_views_what_apply_would_write(store):
    store.apply([], np.empty((0, DIM), np.float32), deletes=["gone"])
    kept, vectors = store.admissible(
        [record("gone", 950.0), record("new", 960.0)], np.stack([unit(60), unit(61)])
    )
    assert [r.post_id for r in kept] == ["new"] and np.allclose(vectors, unit(61)[None])
    assert store.get("new") is None  # nothing written
