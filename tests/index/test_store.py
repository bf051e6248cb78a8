import threading

import numpy as np
import pytest

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
    assert store._index.ntotal == 10
    assert store.get("3").text == "edited"
    assert store.search(unit(99), k=1)[0].post.post_id == "3"


def test_duplicate_ids_in_one_batch_keep_the_last(store):
    store.apply([record("x", text="first"), record("x", text="second")], np.stack([unit(1), unit(2)]))
    assert store._index.ntotal == 11
    assert store.get("x").text == "second"


def test_delete_removes_vector_and_metadata(store):
    assert store.apply([], np.empty((0, DIM), np.float32), deletes=["3", "unknown"]).deleted == 1
    assert store.get("3") is None
    assert all(h.post.post_id != "3" for h in store.search(unit(3), k=10))
    assert len(store) == 9 and store._index.ntotal == 9


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
