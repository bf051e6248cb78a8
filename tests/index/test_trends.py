"""Burst scores, labels and the trends read side."""

from __future__ import annotations

from collections import Counter

import numpy as np

from index.bursts import baseline_rate, burst_score, score_series, window_volume
from index.records import PostRecord
from index.stories import StoryTracker, story_id
from index.trend_config import TrendsConfig
from index.trends import TrendTracker, decayed_peak, distinctive_terms
from tests.index.test_stories import DIM, angle

T0 = 1_366_052_400.0  # a bucket boundary (5 min)
BUCKET = 300.0


def posts_over(tracker: StoryTracker, prefix: str, per_bucket: list[int], vector, text: str, start=T0):
    """Feed ``per_bucket[i]`` posts in bucket i, one batch per bucket."""
    for i, count in enumerate(per_bucket):
        batch = [
            PostRecord(f"{prefix}{i}-{j}", f"{text} {prefix}{i}x{j}", f"u{j}", start + i * BUCKET + j)
            for j in range(count)
        ]
        if batch:
            tracker.observe(batch, np.stack([vector] * count))


def test_baseline_is_a_decaying_average_that_starts_at_zero():
    assert baseline_rate({}, 10, 12) == 0
    steady = {b: 4 for b in range(500)}
    assert abs(baseline_rate(steady, 500, 12) - 4) < 1e-6
    assert baseline_rate({0: 10}, 1, 1) == 5  # half-life of one bucket: half of the last bucket
    assert window_volume({1: 2, 5: 3, 9: 4}, 2, 9) == 7


def test_a_sudden_rise_outscores_a_larger_steady_volume_and_a_passed_burst_cools():
    steady = {b: 50 for b in range(200)}
    sudden = {b: 1 for b in range(188)} | {b: 12 for b in range(188, 200)}
    steady_score, steady_volume = score_series(steady, 188, 199, 24, 1.0)
    sudden_score, sudden_volume = score_series(sudden, 188, 199, 24, 1.0)
    assert steady_volume > sudden_volume
    assert sudden_score > 10 > abs(steady_score)
    cooled = sudden | {b: 1 for b in range(200, 224)}
    assert score_series(cooled, 212, 223, 24, 1.0)[0] < 0
    assert burst_score(5, 0, 1.0) == 5


def test_a_past_burst_is_remembered_halved_every_half_life_since_it_ended():
    assert decayed_peak({}, 20, 20, 10, 1.0, 5, 100) == -np.inf
    # One-bucket windows: 16 posts over nothing ended 10 buckets (one half-life) ago.
    assert abs(decayed_peak({10: 16}, 20, 20, 10, 1.0, 5, 100) - 8) < 1e-9
    assert decayed_peak({10: 16}, 20, 20, 10, 1.0, 17, 100) == -np.inf  # under the volume floor
    assert decayed_peak({10: 16}, 20, 20, 10, 1.0, 5, 9) == -np.inf  # older than the lookback
    rng = np.random.default_rng(3)
    series = {int(b): int(c) for b, c in zip(rng.integers(0, 90, 60), rng.integers(1, 9, 60), strict=True)}
    first, last, half_life = 100, 111, 7.0
    brute = max(
        score * 0.5 ** ((last - end) / half_life)
        for end in range(last - 40, last)
        for score, volume in [score_series(series, end - 11, end, half_life, 1.0)]
        if volume >= 5
    )
    assert abs(decayed_peak(series, first, last, half_life, 1.0, 5, 40) - brute) < 1e-9


def test_a_big_burst_stays_listed_while_it_cools_and_a_weak_one_drops_out():
    config = TrendsConfig(min_volume=5, min_score=3, baseline_half_life_s=3600)
    tracker = StoryTracker(DIM, config)
    trends = TrendTracker(tracker)
    # Big: 60 posts in the first hour, then a steady 12 an hour. Weak: 6 in the first hour, then 6 an hour.
    posts_over(tracker, "big", [5] * 12 + [1] * 36, angle(0), "plant explosion west")
    posts_over(tracker, "weak", [1, 0] * 24, angle(0, 2, 3), "road closed detour")
    posts_over(tracker, "new", [0] * 40 + [1] * 8, angle(0, 4, 5), "ferry strike harbour")
    big, weak, new = story_id("big0-0"), story_id("weak0-0"), story_id("new40-0")

    # Three hours after its peak, the big story is under the baseline its burst raised
    # (score < 3) but 60 / 2**3 is still over the floor: listed, after the burst of now.
    top = trends.top(3600)
    assert [t.id for t in top] == [new, big]
    assert top[1].trending and top[1].score < config.min_score <= top[0].score
    assert not trends.story(weak).trending  # 6 / 2**3: forgotten, and steady since

    posts_over(tracker, "big-later", [0] * 48 + [1] * 24, angle(0), "plant explosion west")
    assert big not in [t.id for t in trends.top(3600)]  # five half-lives: 60 / 2**5 < 3


def test_labels_prefer_words_distinctive_against_the_background():
    background = Counter({"rain": 500, "weekend": 300, "explosion": 12, "marathon": 10, "#boston": 8})
    story = Counter({"explosion": 10, "marathon": 8, "#boston": 7, "rain": 9, "once": 1})
    assert distinctive_terms(story, 10, background, 2000, 3) == ["explosion", "marathon", "#boston"]
    assert distinctive_terms(Counter(), 0, background, 2000, 3) == []


def test_no_posts_or_a_quiet_window_gives_no_trends():
    tracker = StoryTracker(DIM, TrendsConfig(min_volume=5, min_score=3))
    trends = TrendTracker(tracker)
    assert trends.top(3600) == [] and trends.terms(3600) == []
    posts_over(tracker, "steady", [3] * 288, angle(0), "weather chat")  # a day of the same chatter
    assert trends.top(3600) == []


def test_a_burst_trends_with_label_series_posts_and_then_cools_down():
    config = TrendsConfig(min_volume=5, min_score=3, baseline_half_life_s=3600)
    tracker = StoryTracker(DIM, config)
    lookup = {}
    posts_over(tracker, "chat", [2] * 43, angle(0, 2, 3), "weather nice sunny")
    posts_over(tracker, "boom", [0] * 40 + [1, 6, 9], angle(0), "explosion marathon #boston", T0)
    for tid in list(tracker.posts):
        lookup[tid] = PostRecord(tid, f"text of {tid}", "a", T0)
    trends = TrendTracker(tracker, lookup.get)

    top = trends.top(1800, limit=10)
    assert [t.id for t in top] == [story_id("boom40-0")]
    trend = top[0]
    assert trend.volume == 16 and trend.trending and trend.score >= 3
    assert set(trend.keywords[:3]) == {"explosion", "marathon", "#boston"}
    assert trend.label.split() == trend.keywords[:3]
    assert [count for _, count in trend.series] == [0, 0, 0, 1, 6, 9]
    assert trend.series[-1][0] == T0 + 42 * BUCKET
    assert trend.representative is not None and trend.representative.text.startswith("text of boom")
    assert len(trend.top_posts) == config.top_posts
    assert trends.top(1800, query="marathon")[0].id == trend.id
    assert trends.top(1800, query="sunny") == []
    assert trends.terms(1800)[0].term in {"explosion", "marathon", "#boston"}

    # Two hours on, a trickle is below the baseline the burst raised: the story cools but is
    # still listed, its peak of 16 halved twice is over the floor of 3.
    posts_over(tracker, "boom-late", [0] * 45 + [1] * 24, angle(0), "explosion marathon #boston", T0)
    [cooling] = trends.top(1800)
    assert cooling.id == trend.id and cooling.trending and cooling.score < config.min_score
    posts_over(tracker, "boom-later", [0] * 69 + [1] * 12, angle(0), "explosion marathon #boston", T0)
    assert trends.top(1800) == []  # three hours on: 16 / 2**3 is under the floor
    assert not trends.story(trend.id, 1800).trending
    assert trends.story(trend.id).posts == 16 + 24 + 12


def test_story_lookup_resolves_merged_ids_and_unknown_ids_are_none():
    tracker = StoryTracker(DIM)
    posts_over(tracker, "a", [3], angle(0), "flood")
    posts_over(tracker, "b", [1], angle(0, 4, 5), "flood")
    survivor = tracker.merge(story_id("a0-0"), story_id("b0-0"))
    trends = TrendTracker(tracker)
    assert trends.story(story_id("b0-0")).id == survivor
    assert trends.story("s-nope") is None
    assert trends.story(survivor).posts == 4
