"""What is trending: stories whose volume bursts over their own baseline, with labels.

``TrendTracker`` is the read side over a ``StoryTracker`` (which ingest feeds). Its
Python API is what ``GET /v1/trends`` and a "what's trending (about X)?" question use:

    tracker.top(window_s=3600, limit=10, query="floods")  # → list[Trend], best first
    tracker.story("s0123…")                                # → Trend | None (merged ids resolve)
    tracker.terms(window_s=3600, limit=10)                 # → bursting hashtags and keywords

Windows end at the newest created time seen (``StoryTracker.now``), not the wall clock.

A story is listed while it bursts (score and volume floors) and, after that, while it
cools: its best burst score, halved every baseline half-life since, is still over the
score floor and it still has the floor's volume in the window. A burst k times the floor
is remembered log2(k) half-lives, so a big event stays listed through its decline (its
own baseline, which has absorbed the burst, would score it below zero) while a weak one
drops out within hours. Listed stories rank by their burst score now: new bursts first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.bursts import baseline_rate, burst_score, score_series, window_volume
from index.embedder import Embedder
from index.records import PostRecord
from index.stories import Story, StoryTracker
from index.terms import terms

LABEL_WORDS = 3
# A cooling story's past windows are looked at up to this many baseline half-lives back:
# a burst score has to be 2**10 times the floor to be remembered longer.
MEMORY_HALF_LIVES = 10


@dataclass(slots=True, frozen=True)
class TrendPost:
    """A post shown for a trend; text is None when the store no longer has it."""

    post_id: str
    text: str | None
    created_at: float | None


@dataclass(slots=True, frozen=True)
class Trend:
    """One story in a window: how much and how suddenly it was posted about, and what it says."""

    id: str
    label: str
    keywords: list[str]
    score: float
    volume: int  # posts in the window
    series: list[tuple[float, int]]  # (bucket start, posts) for each bucket of the window
    first_seen: float
    last_seen: float
    posts: int  # posts of the story in all
    authors: int
    trending: bool  # listed by ``top``: bursting, or cooling from a burst that is still remembered
    representative: TrendPost | None
    top_posts: list[TrendPost]


@dataclass(slots=True, frozen=True)
class TermBurst:
    """A hashtag or keyword whose use bursts in the window."""

    term: str
    score: float
    volume: int


class TrendTracker:
    """Ranks stories by burst score; texts come from ``lookup`` (e.g. ``PostStore.get``)."""

    def __init__(
        self,
        stories: StoryTracker,
        lookup: Callable[[str], PostRecord | None] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.stories = stories
        self.config = stories.config
        self._lookup = lookup
        self._embedder = embedder

    def window(self, window_s: float | None = None) -> tuple[int, int]:
        """(first, last) bucket of the window ending at the tracker's clock."""
        cfg = self.config
        span = max(1, math.ceil((window_s or cfg.default_window_s) / cfg.bucket_s))
        last = self.stories.bucket_of(self.stories.now)
        return last - span + 1, last

    def top(self, window_s: float | None = None, limit: int = 10, query: str | None = None) -> list[Trend]:
        """Listed stories in the window (bursting, or cooling), highest burst score first; [] when none.

        Args:
            window_s: window length in seconds (default ``default_window_s``).
            limit: at most this many.
            query: keep stories that use one of its words, or (with an embedder) whose
                centroid is within ``query_min_similarity`` of it.
        """
        query_terms, query_vector = self._query(query)
        cfg = self.config
        with self.stories.lock:
            if not self.stories.stories:
                return []
            first, last = self.window(window_s)
            since = first * cfg.bucket_s
            scored = []
            for story in self.stories.recent(since, cfg.min_volume):
                score, volume = self._score(story, first, last)
                if not self._listed(story, first, last, score, volume):
                    continue
                if query is not None and not self._matches(story, query_terms, query_vector):
                    continue
                scored.append((score, volume, story))
            scored.sort(key=lambda item: (-item[0], item[2].id))
            return [
                self._trend(story, first, last, score, volume, trending=True)
                for score, volume, story in scored[:limit]
            ]

    def story(self, story_id: str, window_s: float | None = None) -> Trend | None:
        """One story (a merged id resolves to its survivor); the series spans its life, or the window.

        Its score and ``trending`` are over the window (the default one when None).
        """
        with self.stories.lock:
            story = self.stories.stories.get(self.stories.resolve(story_id))
            if story is None:
                return None
            first, last = self.window(window_s)
            score, volume = self._score(story, first, last)
            trending = self._listed(story, first, last, score, volume)
            if window_s is None:
                first = self.stories.bucket_of(story.first_seen)
                last = max(last, self.stories.bucket_of(story.last_seen))
                volume = len(story.posts)
            return self._trend(story, first, last, score, volume, trending)

    def terms(self, window_s: float | None = None, limit: int = 10) -> list[TermBurst]:
        """Hashtags and keywords bursting in the window (stories' score and floors, no cooling)."""
        cfg = self.config
        first, last = self.window(window_s)
        candidates = self.stories.recent_terms(first)
        bursts = []
        for term, volume in candidates.items():
            if volume < cfg.min_volume:
                continue
            score, _ = score_series(self.stories.term_series(term), first, last, self._half_life, cfg.prior)
            if score >= cfg.min_score:
                bursts.append(TermBurst(term, round(score, 3), volume))
        bursts.sort(key=lambda b: (-b.score, b.term))
        return bursts[:limit]

    @property
    def _half_life(self) -> float:
        return self.config.baseline_half_life_s / self.config.bucket_s

    def _score(self, story: Story, first: int, last: int) -> tuple[float, int]:
        return score_series(story.buckets, first, last, self._half_life, self.config.prior)

    def _listed(self, story: Story, first: int, last: int, score: float, volume: int) -> bool:
        """Whether ``top`` lists the story: it bursts now, or cools from a burst still remembered."""
        cfg = self.config
        if volume < cfg.min_volume:
            return False
        if score >= cfg.min_score:
            return True
        lookback = math.ceil(MEMORY_HALF_LIVES * self._half_life)
        peak = decayed_peak(story.buckets, first, last, self._half_life, cfg.prior, cfg.min_volume, lookback)
        return peak >= cfg.min_score

    def _query(self, query: str | None) -> tuple[set[str], np.ndarray | None]:
        if query is None or not query.strip():
            return set(), None
        words = {t.lstrip("#") for t in terms(query)}
        vector = self._embedder.embed([query])[0] if self._embedder is not None else None
        return words | {f"#{w}" for w in words}, vector

    def _matches(self, story: Story, words: set[str], vector: np.ndarray | None) -> bool:
        if any(story.terms.get(word, 0) > 0 for word in words):
            return True
        if vector is None:
            return False
        return float(self.stories.centroid(story) @ vector) >= self.config.query_min_similarity

    def _trend(self, story: Story, first: int, last: int, score: float, volume: int, trending: bool) -> Trend:
        cfg = self.config
        keywords = distinctive_terms(
            story.terms,
            len(story.posts),
            self.stories.background,
            self.stories.background_posts,
            cfg.keywords,
        )
        ranked_keys = sorted(story.key_post, key=lambda k: (-story.keys.get(k, 0), story.key_post[k]))
        top_ids = [story.key_post[k] for k in ranked_keys[: cfg.top_posts]]
        for post_id in story.posts:  # posts without a repost key fill up the list
            if len(top_ids) >= cfg.top_posts:
                break
            if post_id not in top_ids:
                top_ids.append(post_id)
        top_posts = [self._post(post_id) for post_id in top_ids]
        return Trend(
            id=story.id,
            label=" ".join(keywords[:LABEL_WORDS]),
            keywords=keywords,
            score=round(score, 3),
            volume=volume,
            series=[(b * cfg.bucket_s, story.buckets.get(b, 0)) for b in range(first, last + 1)],
            first_seen=story.first_seen,
            last_seen=story.last_seen,
            posts=len(story.posts),
            authors=len(story.authors),
            trending=trending,
            representative=top_posts[0] if top_posts else None,
            top_posts=top_posts,
        )

    def _post(self, post_id: str) -> TrendPost:
        record = self._lookup(post_id) if self._lookup else None
        if record is None:
            return TrendPost(post_id, None, None)
        return TrendPost(post_id, record.text, record.created_at)


def decayed_peak(
    series: dict[int, int],
    first: int,
    last: int,
    half_life_buckets: float,
    prior: float,
    min_volume: int,
    lookback: int,
) -> float:
    """The best burst score of earlier windows, each halved every half-life since it ended.

    Windows are as long as ``first`` … ``last`` and end in the ``lookback`` buckets before
    ``last``; one with fewer than ``min_volume`` posts does not count. ``-inf`` when none does.
    One pass: the baseline and the window volume are carried from one window to the next.
    """
    if not series:
        return -math.inf
    span = last - first + 1
    start = max(first - lookback, min(series) - span + 1)  # windows before the first post are empty
    decay = 0.5 ** (1.0 / half_life_buckets)
    expected_rate = baseline_rate(series, start, half_life_buckets)
    volume = window_volume(series, start, start + span - 1)
    best = -math.inf
    for window_start in range(start, first):
        if volume >= min_volume:
            age = last - (window_start + span - 1)
            best = max(best, burst_score(volume, expected_rate * span, prior) * decay**age)
        leaving = series.get(window_start, 0)
        expected_rate = decay * expected_rate + (1.0 - decay) * leaving
        volume += series.get(window_start + span, 0) - leaving
    return best


def distinctive_terms(
    story_terms: Counter[str], story_posts: int, background: Counter[str], background_posts: int, n: int
) -> list[str]:
    """The story's most distinctive words: TF-IDF with the background span's posts as documents.

    Like c-TF-IDF (BERTopic), the story is one document of term frequencies, weighed
    by how rare each term is in the background. A term must be in at least two of the
    story's posts when it has two or more.
    """
    floor = 2 if story_posts >= 2 else 1
    total = max(background_posts, story_posts)
    weights = {
        term: count * math.log((1 + total) / (1 + max(background.get(term, 0), count)))
        for term, count in story_terms.items()
        if count >= floor
    }
    ranked = sorted(weights, key=lambda t: (-weights[t], t))
    return [t for t in ranked if weights[t] > 0][:n]
