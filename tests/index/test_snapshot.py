import hashlib
import json
import shutil

import faiss
import numpy as np

from index.config import IndexConfig
from index.records import PostRecord
from index.snapshot import SnapshotScheduler, restore_latest, snapshots, write_snapshot
from index.store import PostStore


def filled_store(count: int, dim: int = 4) -> PostStore:
    store = PostStore(dim)
    vectors = np.eye(dim, dtype=np.float32)[np.arange(count) % dim]
    posts = [
        PostRecord(post_id=f"p{i}", text=f"text {i}", author="a", created_at=float(i)) for i in range(count)
    ]
    store.apply(posts, vectors, offsets={0: count, 1: 3})
    return store


def test_round_trip_keeps_posts_vectors_and_offsets(tmp_path):
    original = filled_store(6)
    original.apply([], np.empty((0, 4), np.float32), deletes=["p2"])
    write_snapshot(original, tmp_path)
    restored = PostStore(4)
    assert restore_latest(restored, tmp_path) is not None
    assert len(restored) == 5
    assert restored.get("p2") is None
    assert restored.get("p5").text == "text 5"
    assert restored.stats().applied_offsets == {0: 6, 1: 3}
    assert {h.post.post_id for h in restored.search(np.eye(4, dtype=np.float32)[1], 2)} == {"p1", "p5"}


def test_corrupted_newest_snapshot_falls_back_to_previous(tmp_path):
    write_snapshot(filled_store(3), tmp_path)
    newest = write_snapshot(filled_store(5), tmp_path)
    next(newest.glob("segment-*.faiss")).write_bytes(b"garbage")
    restored = PostStore(4)
    assert restore_latest(restored, tmp_path) != newest
    assert len(restored) == 3


def test_keeps_only_the_newest_snapshots(tmp_path):
    for _ in range(5):
        write_snapshot(filled_store(2), tmp_path, keep=2)
    assert len(snapshots(tmp_path)) == 2


def test_scheduler_writes_only_when_dirty_and_due(tmp_path):
    store = filled_store(2)
    scheduler = SnapshotScheduler(store, tmp_path, interval_s=3600)
    scheduler.after_batch()
    assert snapshots(tmp_path) == []
    assert scheduler.write_now() is not None
    assert scheduler.write_now() is None


def test_remembered_deletes_survive_a_snapshot(tmp_path):
    original = filled_store(3)
    original.apply([], np.empty((0, 4), np.float32), deletes=["p1", "not-yet-seen"])
    write_snapshot(original, tmp_path)
    restored = PostStore(4)
    restore_latest(restored, tmp_path)
    late = PostRecord(post_id="not-yet-seen", text="late", author="a", created_at=2.0)
    assert restored.apply([late], np.eye(4, dtype=np.float32)[:1]).skipped == 1


def test_scheduler_snapshots_every_n_records_and_reports_durable_offsets(tmp_path):
    store = filled_store(2)
    scheduler = SnapshotScheduler(store, tmp_path, interval_s=3600, every_records=100)
    assert scheduler.durable_offsets() == {0: 2, 1: 3}  # what the store held when it started
    store.apply([], np.empty((0, 4), np.float32), offsets={0: 60})
    scheduler.after_batch(60)
    assert snapshots(tmp_path) == [] and scheduler.durable_offsets() == {0: 2, 1: 3}
    store.apply([], np.empty((0, 4), np.float32), offsets={0: 120})
    scheduler.after_batch(60)
    assert len(snapshots(tmp_path)) == 1 and scheduler.durable_offsets() == {0: 120, 1: 3}


def test_a_format_2_snapshot_with_one_index_loads_as_one_sealed_segment(tmp_path):
    """Before time segments (format 2) a snapshot held one index keyed by global slot ids."""
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(4))
    index.add_with_ids(np.eye(4, dtype=np.float32)[[0, 2]], np.array([0, 2], dtype=np.int64))
    posts = [
        {"slot": s, "post_id": f"p{s}", "text": "t", "author": "a", "created_at": float(s)} for s in (0, 2)
    ]
    files = {
        "vectors.faiss": faiss.serialize_index(index).tobytes(),
        "posts.jsonl": "".join(json.dumps(p) + "\n" for p in posts).encode(),
        "deletes.json": b'{"p1": 1.0}',
    }
    manifest = {
        "format": 2,
        "posts": 2,
        "slots": 3,
        "offsets": {"0": 4},
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    folder = tmp_path / "snap-000000000000001"
    folder.mkdir()
    for name, data in {**files, "manifest.json": json.dumps(manifest).encode()}.items():
        (folder / name).write_bytes(data)
    restored = PostStore(4, IndexConfig(segment_posts=2))
    assert restore_latest(restored, tmp_path) == folder
    assert restored.search(np.eye(4, dtype=np.float32)[2], 1)[0].post.post_id == "p2"
    restored.apply([PostRecord("p3", "t", "a", 3.0)], np.eye(4, dtype=np.float32)[[3]], deletes=["p0"])
    assert restored.stats().segments == 2 and restored.stats().vectors == len(restored) == 2
    assert restored.search(np.eye(4, dtype=np.float32)[3], 1)[0].post.post_id == "p3"
    assert restored.get("p1") is None and restored.get("p0") is None


def segmented_store(count: int) -> PostStore:
    store = PostStore(4, IndexConfig(segment_posts=4, ann="flat"))
    vectors = np.eye(4, dtype=np.float32)[np.arange(count) % 4]
    store.apply([PostRecord(f"p{i}", f"text {i}", "a", float(i)) for i in range(count)], vectors)
    return store


def inodes(snapshot) -> dict[str, int]:
    return {
        path.name: path.stat().st_ino
        for path in snapshot.iterdir()
        if path.name.startswith(("segment", "posts"))
    }


def test_unchanged_segments_are_hard_linked_from_the_previous_snapshot(tmp_path):
    store = segmented_store(10)  # segments at slots 0, 4, 8
    first = write_snapshot(store, tmp_path)
    store.apply([], np.empty((0, 4), np.float32), deletes=["p5"])  # changes the segment at slot 4 only
    second = write_snapshot(store, tmp_path, reuse=first)
    before, after = inodes(first), inodes(second)
    shared = {name for name in after if before.get(name) == after[name]}
    assert shared == {"segment-000000000000000.faiss", "posts-000000000000000.jsonl"} | {
        "segment-000000000000008.faiss",
        "posts-000000000000008.jsonl",
    }
    shutil.rmtree(first)  # the linked files live on in the second snapshot
    restored = PostStore(4)
    assert restore_latest(restored, tmp_path) == second
    assert len(restored) == 9 and restored.get("p5") is None and restored.get("p9").text == "text 9"
    assert restored.stats().segments == 3


def test_a_snapshot_whose_files_are_gone_is_not_reused(tmp_path):
    store = segmented_store(6)
    first = write_snapshot(store, tmp_path)
    (first / "segment-000000000000000.faiss").unlink()
    second = write_snapshot(store, tmp_path, reuse=first)  # nothing changed, but the file is gone
    restored = PostStore(4)
    assert restore_latest(restored, tmp_path) == second and len(restored) == 6


def test_the_scheduler_reuses_what_it_wrote_and_a_restart_writes_everything_once(tmp_path):
    store = segmented_store(10)
    scheduler = SnapshotScheduler(store, tmp_path, interval_s=3600)
    scheduler.after_batch()
    first = scheduler.write_now()
    store.apply([PostRecord("p10", "t", "a", 10.0)], np.eye(4, dtype=np.float32)[[1]])
    scheduler.after_batch()
    second = scheduler.write_now()
    assert inodes(first)["segment-000000000000000.faiss"] == inodes(second)["segment-000000000000000.faiss"]
    restarted = SnapshotScheduler(store, tmp_path, interval_s=3600)  # knows no snapshot of its own
    restarted.after_batch()
    third = restarted.write_now()
    assert inodes(third)["segment-000000000000000.faiss"] != inodes(second)["segment-000000000000000.faiss"]
