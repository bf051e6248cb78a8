import numpy as np
import pytest

from index import ann
from index.config import IndexConfig
from index.records import PostRecord
from index.snapshot import restore_latest, write_snapshot
from index.store import PostStore

DIM = 32
POSTS = 3_000


def clustered(count: int, seed: int = 0, clusters: int = 40) -> np.ndarray:
    """Unit vectors around a few random directions, like topics in post embeddings."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).normal(size=(clusters, DIM))
    vectors = centres[rng.integers(clusters, size=count)] + 0.6 * rng.normal(size=(count, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def records(count: int, start: int = 0, text: str = "t") -> list[PostRecord]:
    return [
        PostRecord(post_id=f"p{i}", text=text, author="a", created_at=float(i))
        for i in range(start, start + count)
    ]


def ivf_store(config: IndexConfig | None = None) -> tuple[PostStore, np.ndarray]:
    store = PostStore(DIM, config or IndexConfig(ann="ivf", nprobe=4))
    vectors = clustered(POSTS)
    store.apply(records(POSTS), vectors, offsets={0: POSTS})
    return store, vectors


@pytest.fixture(scope="module")
def built() -> tuple[PostStore, np.ndarray]:
    return ivf_store()


def ids(hits) -> list[str]:
    return [hit.post.post_id for hit in hits]


def nothing() -> np.ndarray:
    return np.empty((0, DIM), np.float32)


def test_ivf_store_is_ivf_and_finds_each_post_first(built):
    store, vectors = built
    assert store.layouts()[0].nlist > 1
    for i in range(0, POSTS, 97):
        assert ids(store.search(vectors[i], k=1)) == [f"p{i}"]


def test_upsert_replaces_with_one_vector_per_id():
    store, _ = ivf_store()
    moved = clustered(1, seed=99)
    result = store.apply(records(1, start=7, text="edited"), moved)
    assert (result.added, result.replaced) == (0, 1)
    assert store.stats().vectors == POSTS == len(store)
    assert store.get("p7").text == "edited"
    assert ids(store.search(moved[0], k=1)) == ["p7"]


def test_delete_removes_from_search():
    store, vectors = ivf_store()
    assert store.apply([], nothing(), deletes=["p5", "p6"]).deleted == 2
    assert store.stats().vectors == POSTS - 2
    assert {"p5", "p6"}.isdisjoint(ids(store.search(vectors[5], k=20)))
    assert store.get("p5") is None


def test_time_window_is_honoured_and_exact_when_narrow(built):
    store, vectors = built
    flat = PostStore(DIM, IndexConfig(ann="flat"))
    flat.apply(records(POSTS), vectors)
    query = clustered(1, seed=7)[0]
    hits = store.search(query, k=5, since=1000, until=1010)
    assert all(1000 <= hit.post.created_at <= 1010 for hit in hits)
    # a window this narrow probes every list, so IVF answers exactly
    assert ids(hits) == ids(flat.search(query, k=5, since=1000, until=1010))


def test_snapshot_round_trip_keeps_the_ivf_index(built, tmp_path):
    store, _ = built
    write_snapshot(store, tmp_path)
    restored = PostStore(DIM, IndexConfig(ann="ivf", nprobe=4))
    assert restore_latest(restored, tmp_path) is not None
    assert restored.layouts() == store.layouts()
    assert restored.stats().applied_offsets == {0: POSTS}
    for query in clustered(5, seed=3):
        assert ids(restored.search(query, k=10)) == ids(store.search(query, k=10))


def test_auto_moves_from_flat_to_ivf_keeping_every_post():
    store = PostStore(DIM, IndexConfig(ann="auto", ann_min_posts=2_000, nprobe=4))
    vectors = clustered(POSTS)
    for start in range(0, POSTS, 500):
        if start == 1_500:  # 1,500 posts so far
            assert store.layouts()[0].nlist == 0
        store.apply(records(500, start), vectors[start : start + 500])
    assert store.layouts()[0].nlist > 1
    assert store.stats().vectors == POSTS
    assert all(ids(store.search(vectors[i], k=1)) == [f"p{i}"] for i in range(POSTS))


def test_retrains_as_it_grows_and_falls_back_to_flat_when_it_shrinks():
    store = PostStore(DIM, IndexConfig(ann="auto", ann_min_posts=1_000, nprobe=4))
    vectors = clustered(4_000)
    store.apply(records(1_000), vectors[:1_000])
    first = store.layouts()[0].nlist
    store.apply(records(3_000, start=1_000), vectors[1_000:])
    assert store.layouts()[0].nlist > first
    store.apply([], nothing(), deletes=[f"p{i}" for i in range(3_600)])
    assert store.layouts()[0].nlist == 0
    assert ids(store.search(vectors[3_900], k=1)) == ["p3900"]


def test_recall_against_flat_is_high(built):
    store, vectors = built
    flat = PostStore(DIM, IndexConfig(ann="flat"))
    flat.apply(records(POSTS), vectors)
    queries = clustered(100, seed=5)
    found = [len(set(ids(store.search(q, 10))) & set(ids(flat.search(q, 10)))) for q in queries]
    assert sum(found) / (10 * len(queries)) >= 0.9


def test_plan_follows_the_policy():
    flat, ivf = ann.Layout(0, 0), ann.Layout(64, 10_000)
    assert ann.plan(IndexConfig(ann="flat"), 10**6, flat) is None
    assert ann.plan(IndexConfig(ann="auto"), 49_999, flat) is None
    assert ann.plan(IndexConfig(ann="auto"), 50_000, flat) == ann.nlist_for(50_000)
    assert ann.plan(IndexConfig(ann="auto"), 30_000, ann.Layout(512, 50_000)) is None
    assert ann.plan(IndexConfig(ann="auto"), 20_000, ann.Layout(512, 50_000)) == 0
    assert ann.plan(IndexConfig(ann="ivf"), 15_000, ivf.grown(5_000)) is None
    assert ann.plan(IndexConfig(ann="ivf"), 20_000, ivf.grown(10_000)) == ann.nlist_for(20_000)
    assert ann.plan(IndexConfig(ann="ivf", nlist=10**6), 2_000, flat) == ann.nlist_for(2_000)


def test_nlist_grows_with_the_square_root_and_stays_trainable():
    assert [ann.nlist_for(n) for n in (1_000, 50_000, 200_000, 1_000_000)] == [16, 512, 1024, 2048]
    assert ann.nlist_for(4_000, wanted=8) == 8


def test_segments_probe_their_share_of_a_store_wide_index():
    assert ann.segment_probes(16, 512, 2048) == 4
    assert ann.segment_probes(16, 2048, 2048) == 16
    assert ann.segment_probes(16, 4096, 1024) == 16  # a segment larger than the store's reference
    assert ann.segment_probes(1, 8, 2048) == 1


def test_search_across_ivf_segments_finds_each_post_first():
    store = PostStore(DIM, IndexConfig(ann="ivf", nprobe=8, segment_posts=1_000))
    vectors = clustered(POSTS)
    store.apply(records(POSTS), vectors)
    assert len(store.layouts()) == 3 and all(layout.nlist > 1 for layout in store.layouts())
    assert all(ids(store.search(vectors[i], k=1)) == [f"p{i}"] for i in range(0, POSTS, 37))


def test_a_sealed_segment_is_retrained_on_everything_it_holds():
    store = PostStore(DIM, IndexConfig(ann="auto", ann_min_posts=1_000, segment_posts=2_000, nprobe=4))
    vectors = clustered(POSTS)
    for start in range(0, POSTS, 500):
        store.apply(records(500, start), vectors[start : start + 500])
    sealed, writable = store.layouts()
    assert sealed.trained_with == 2_000 and sealed.added == 0  # last trained at 1,000 posts, then at the seal
    assert writable.trained_with == 1_000  # the writable segment retrains as it doubles
    assert ann.plan(IndexConfig(), 60_000, ann.Layout(512, 50_000, 10_000)) is None
    assert ann.plan(IndexConfig(), 60_000, ann.Layout(512, 50_000, 12_500), sealed=True) == 512
