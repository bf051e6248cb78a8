"""Stories at ingest: assignment, stable ids, merges, deletes, retention, snapshots."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from index.records import PostRecord
from index.snapshot import SnapshotFollower, restore_latest, write_snapshot
from index.store import PostStore
from index.stories import StoryTracker, story_id
from index.story_state import StoriesPart
from index.terms import repost_key, terms
from index.trend_config import TrendsConfig

DIM = 16
T0 = 1_366_052_400.0  # 2013-04-15 19:00 UTC


def angle(degrees: float, axis: int = 0, toward: int = 1) -> np.ndarray:
    """A unit vector ``degrees`` from basis vector ``axis`` toward ``toward``."""
    vector = np.zeros(DIM, np.float32)
    vector[axis] = math.cos(math.radians(degrees))
    vector[toward] = math.sin(math.radians(degrees))
    return vector


def post(post_id: str, text: str = "", at: float = T0, author: str = "a") -> PostRecord:
    return PostRecord(post_id=post_id, text=text or f"post {post_id}", author=author, created_at=at)


def feed(tracker: StoryTracker, items: list[tuple[PostRecord, np.ndarray]], deletes=()) -> None:
    vectors = np.stack([v for _, v in items]) if items else np.zeros((0, DIM), np.float32)
    tracker.observe([p for p, _ in items], vectors, deletes)


def test_repost_key_and_terms_ignore_rt_prefix_urls_and_case():
    original = "Two explosions at the Boston Marathon finish line http://t.co/abc"
    assert repost_key("RT @news: " + original.upper()) == repost_key(original)
    assert repost_key("RT @a: RT @b: " + original + " http://t.co/zzz") == repost_key(original)
    assert repost_key("lol") is None  # too short to tell copies apart
    assert terms("RT @news: Explosions at the #Boston Marathon, I'm praying http://t.co/x") == [
        "explosions",
        "#boston",
        "marathon",
        "praying",
    ]


def test_similar_posts_join_the_nearest_story_and_others_start_one():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post("1"), angle(0)), (post("2"), angle(10)), (post("3"), angle(0, axis=2, toward=3))])
    feed(tracker, [(post("4", at=T0 + 60), angle(20))])
    a, b = story_id("1"), story_id("3")
    assert set(tracker.stories) == {a, b}
    assert list(tracker.stories[a].posts) == ["1", "2", "4"]
    assert tracker.story_of("3") == b
    assert tracker.stories[a].first_seen == T0 and tracker.stories[a].last_seen == T0 + 60


def test_a_repost_joins_the_original_story_even_when_its_vector_is_far():
    tracker = StoryTracker(DIM)
    text = "Explosions reported at the Boston Marathon finish line"
    feed(tracker, [(post("1", text), angle(0))])
    feed(tracker, [(post("2", "RT @someone: " + text, T0 + 5), angle(90))])
    assert tracker.story_of("2") == story_id("1")
    assert tracker.stories[story_id("1")].keys[repost_key(text)] == 2


def test_a_post_seen_again_is_not_counted_twice():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post("1"), angle(0)), (post("2"), angle(5))])
    feed(tracker, [(post("2", at=T0 + 30), angle(80)), (post("1"), angle(0))])
    story = tracker.stories[story_id("1")]
    assert len(story.posts) == 2 and sum(story.buckets.values()) == 2


def test_ids_stay_the_same_as_a_story_grows():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post("1"), angle(0))])
    first = tracker.story_of("1")
    for i in range(2, 30):
        feed(tracker, [(post(str(i), at=T0 + 60 * i), angle(i % 20))])
    assert set(tracker.stories) == {first}
    assert len(tracker.stories[first].posts) == 29


def test_drifting_stories_merge_and_the_old_id_resolves_to_the_survivor():
    tracker = StoryTracker(DIM, TrendsConfig(join_threshold=0.62, merge_threshold=0.8))
    feed(tracker, [(post(f"a{i}"), angle(0)) for i in range(20)])
    feed(tracker, [(post(f"b{i}", at=T0 + 10), angle(60)) for i in range(3)])
    a, b = story_id("a0"), story_id("b0")
    assert set(tracker.stories) == {a, b}
    t = T0 + 20
    for degrees in (35, 30, 30, 28, 25, 25, 22, 20):  # each is nearer b's centroid, dragging it toward a
        t += 10
        feed(tracker, [(post(f"c{t}", at=t), angle(degrees))])
        if b not in tracker.stories:
            break
    assert set(tracker.stories) == {a}, "b should have merged into the larger a"
    assert tracker.aliases == {b: a}
    assert tracker.resolve(b) == a and tracker.story_of("b1") == a
    assert len(tracker.stories[a].posts) == len(tracker.posts)


def test_explicit_merge_keeps_the_larger_story_and_sums_its_counts():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post("a1"), angle(0)), (post("a2", at=T0 + 400), angle(0))])
    feed(tracker, [(post("b1", at=T0 + 400), angle(0, axis=4, toward=5))])
    survivor = tracker.merge(story_id("b1"), story_id("a1"))
    assert survivor == story_id("a1")
    story = tracker.stories[survivor]
    assert sum(story.buckets.values()) == 3 and story.buckets[tracker.bucket_of(T0 + 400)] == 2
    assert tracker.merge(story_id("b1"), story_id("a1")) == survivor  # both resolve: nothing to do


def test_a_small_burst_merged_into_a_large_quiet_story_takes_the_large_id():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post(f"a{i}", at=T0 + 600 * i), angle(0)) for i in range(30)])  # 5 hours, steady
    now = T0 + 600 * 30
    feed(tracker, [(post(f"b{i}", at=now + i), angle(0, axis=4, toward=5)) for i in range(6)])  # bursting
    assert tracker.merge(story_id("b0"), story_id("a0")) == story_id("a0")
    assert tracker.resolve(story_id("b0")) == story_id("a0")
    assert len(tracker.stories[story_id("a0")].posts) == 36


def test_deletes_remove_volume_and_an_emptied_story_is_forgotten():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post("1"), angle(0)), (post("2"), angle(3)), (post("3"), angle(0, 6, 7))])
    feed(tracker, [], deletes=["2", "unknown"])
    assert list(tracker.stories[story_id("1")].posts) == ["1"]
    feed(tracker, [], deletes=["3"])
    assert story_id("3") not in tracker.stories and tracker.story_of("3") is None


def test_a_delete_with_its_vector_leaves_no_trace_in_the_centroid():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post("1"), angle(0)), (post("2"), angle(20))])
    story = tracker.stories[story_id("1")]
    tracker.observe([], np.zeros((0, DIM), np.float32), ["2"], {"2": angle(20)})
    assert np.allclose(tracker.vector_sum(story), angle(0), atol=1e-6)
    assert np.allclose(tracker.centroid(story), angle(0), atol=1e-6)


def test_single_posts_stop_taking_posts_sooner_and_old_stories_are_forgotten():
    config = TrendsConfig(singleton_ttl_s=600, story_ttl_s=3600, retention_s=7200)
    tracker = StoryTracker(DIM, config)
    feed(tracker, [(post("1"), angle(0)), (post("2"), angle(0, 2, 3)), (post("3"), angle(2, 2, 3))])
    feed(tracker, [(post("4", at=T0 + 1200), angle(1)), (post("5", at=T0 + 1200), angle(1, 2, 3))])
    assert tracker.story_of("4") == story_id("4")  # "1" was alone and quiet for 20 min
    assert tracker.story_of("5") == story_id("2")  # a story of two still takes posts
    feed(tracker, [(post("6", at=T0 + 9000), angle(0, 8, 9))])
    assert set(tracker.stories) == {story_id("6")}


def test_export_and_restore_keep_ids_volumes_aliases_and_assignment():
    tracker = StoryTracker(DIM)
    feed(tracker, [(post(f"a{i}", "Boston marathon explosion", T0 + 60 * i), angle(i)) for i in range(5)])
    feed(tracker, [(post("b1", at=T0 + 10), angle(0, 4, 5)), (post("c1", at=T0 + 20), angle(0, 6, 7))])
    tracker.merge(story_id("c1"), story_id("b1"))
    blob = StoriesPart(tracker).export()

    restored = StoryTracker(DIM)
    StoriesPart(restored).restore(blob)
    assert set(restored.stories) == set(tracker.stories)
    assert restored.aliases == tracker.aliases and restored.now == tracker.now
    for sid, story in tracker.stories.items():
        assert restored.stories[sid].buckets == story.buckets
        assert restored.stories[sid].terms == story.terms
        np.testing.assert_allclose(
            restored.centroid(restored.stories[sid]), tracker.centroid(story), atol=2e-3
        )
    assert restored.background == tracker.background
    feed(restored, [(post("a9", at=T0 + 600), angle(2))])
    assert restored.story_of("a9") == story_id("a0")


def test_stories_are_saved_and_restored_with_the_index(tmp_path):
    tracker = StoryTracker(DIM)
    store = PostStore(DIM)
    items = [(post(str(i), f"flood waters rising {i}", T0 + i), angle(i)) for i in range(4)]
    vectors = np.stack([v for _, v in items])
    tracker.observe([p for p, _ in items], vectors)
    store.apply([p for p, _ in items], vectors, offsets={0: 4})
    path = write_snapshot(store, tmp_path, parts=[StoriesPart(tracker)])
    assert "stories.json" in json.loads((path / "manifest.json").read_text())["sha256"]

    store2, tracker2 = PostStore(DIM), StoryTracker(DIM)
    assert restore_latest(store2, tmp_path, [StoriesPart(tracker2)]) == path
    assert len(store2) == 4 and set(tracker2.stories) == {story_id("0")}


def test_a_corrupt_stories_file_skips_to_the_previous_snapshot(tmp_path):
    tracker, store = StoryTracker(DIM), PostStore(DIM)
    tracker.observe([post("1")], angle(0)[None])
    store.apply([post("1")], angle(0)[None], offsets={0: 1})
    older = write_snapshot(store, tmp_path, parts=[StoriesPart(tracker)])
    tracker.observe([post("2", at=T0 + 5)], angle(0, 2, 3)[None])
    store.apply([post("2", at=T0 + 5)], angle(0, 2, 3)[None], offsets={0: 2})
    newer = write_snapshot(store, tmp_path, parts=[StoriesPart(tracker)])
    (newer / "stories.json").write_bytes(b"{}")

    store2, tracker2 = PostStore(DIM), StoryTracker(DIM)
    assert restore_latest(store2, tmp_path, [StoriesPart(tracker2)]) == older
    assert len(store2) == 1 and set(tracker2.stories) == {story_id("1")}


def test_a_snapshot_without_stories_restores_an_empty_tracker(tmp_path):
    store = PostStore(DIM)
    store.apply([post("1")], angle(0)[None], offsets={0: 1})
    write_snapshot(store, tmp_path)
    tracker = StoryTracker(DIM)
    tracker.observe([post("9")], angle(0)[None])
    assert restore_latest(PostStore(DIM), tmp_path, [StoriesPart(tracker)]) is not None
    assert len(tracker) == 0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        StoryTracker(DIM).observe([post("1")], np.zeros((2, DIM), np.float32))


def test_a_post_dated_in_the_future_does_not_move_the_clock_past_now():
    tracker = StoryTracker(DIM)
    tracker.observe([post("1", at=T0)], angle(0)[None])
    tracker.observe([post("2", at=time.time() + 86_400)], angle(0, 2, 3)[None])
    assert tracker.now <= time.time() + 301
    assert tracker.story_of("2") == story_id("2")  # still tracked, in its own bucket


def test_a_serving_process_follows_the_stories_in_snapshots(tmp_path):
    tracker, store = StoryTracker(DIM), PostStore(DIM)
    items = [post(str(i), "levee breach downtown", T0 + i) for i in range(3)]
    vectors = np.stack([angle(i) for i in range(3)])
    tracker.observe(items, vectors)
    store.apply(items, vectors, offsets={0: 3})
    write_snapshot(store, tmp_path, parts=[StoriesPart(tracker)])

    follower_tracker = StoryTracker(DIM)
    with SnapshotFollower(PostStore(DIM), tmp_path, 60, [StoriesPart(follower_tracker)]) as follower:
        assert follower.loaded is not None
        assert follower_tracker.story_of("2") == story_id("0")


def test_a_stories_file_of_another_dimension_leaves_stories_empty_but_restores_the_index(tmp_path):
    tracker, store = StoryTracker(DIM), PostStore(DIM)
    tracker.observe([post("1")], angle(0)[None])
    store.apply([post("1")], angle(0)[None], offsets={0: 1})
    write_snapshot(store, tmp_path, parts=[StoriesPart(tracker)])
    other = StoryTracker(DIM * 2)
    other.observe([post("9")], np.ones((1, DIM * 2), np.float32) / math.sqrt(DIM * 2))
    store2 = PostStore(DIM)
    assert restore_latest(store2, tmp_path, [StoriesPart(other)]) is not None
    assert len(store2) == 1 and len(other) == 0
