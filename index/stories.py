"""Stories: reposts and near-duplicate posts grouped at ingest, under stable ids.

A post joins a story by its repost key (an ``RT @user:`` prefix or the same text,
``index.terms.repost_key``) or else the live story whose centroid is most similar,
if at least ``join_threshold``; otherwise it starts a story. A story's id comes
from its first post id and is never reused. When two stories merge, the smaller
one's id becomes an alias of the survivor's, so an old id keeps resolving.

Time is event time: buckets and liveness use posts' created times, and ``now`` is
the newest created time seen, so a replay behaves like a live stream.

One writer (the ingest index stage calls ``observe``) and any readers share the
tracker under one lock. ``export``/``restore`` are its snapshot part (``index.snapshot``).
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.live_set import LiveSet
from index.records import PostRecord
from index.terms import repost_key, terms
from index.trend_config import TrendsConfig

log = logging.getLogger(__name__)
# A post dated later than this past the wall clock does not move the clock (a bad created_at
# would otherwise push every window past the real posts).
FUTURE_SLACK_S = 300.0


@dataclass(slots=True, frozen=True)
class PostEntry:
    """What the tracker remembers of one post."""

    story: str
    bucket: int
    author: str
    key: str | None
    terms: tuple[str, ...]


@dataclass(slots=True)
class Story:
    """One story: its posts, authors, words and volume per bucket; its vector sum is a matrix row."""

    id: str
    row: int
    first_seen: float
    last_seen: float
    posts: dict[str, None] = field(default_factory=dict)  # ordered set of post ids
    authors: Counter[str] = field(default_factory=Counter)
    buckets: dict[int, int] = field(default_factory=dict)
    terms: Counter[str] = field(default_factory=Counter)
    keys: Counter[str] = field(default_factory=Counter)  # repost key → posts with it
    key_post: dict[str, str] = field(default_factory=dict)  # repost key → its first post


def story_id(post_id: str) -> str:
    """The id of a story started by ``post_id``: short, URL-safe and deterministic."""
    return "s" + hashlib.blake2b(post_id.encode(), digest_size=8).hexdigest()


class StoryTracker:
    """Assigns posts to stories and keeps per-story and background counts."""

    def __init__(self, dim: int, config: TrendsConfig | None = None) -> None:
        self.dim = dim
        self.config = config or TrendsConfig()
        self.lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        dim = self.dim
        self.now = 0.0  # newest created time seen (Unix s)
        self.stories: dict[str, Story] = {}
        self.posts: dict[str, PostEntry] = {}
        self.aliases: dict[str, str] = {}  # merged id → the id it merged into
        self.background: Counter[str] = Counter()  # terms of posts in the background span
        self.background_posts = 0
        self._keys: dict[str, str] = {}  # repost key → story id
        self._live = LiveSet(dim)  # stories that may still take posts by similarity
        self._expired_at = -1  # bucket of the last liveness sweep
        self._quiet: list[tuple[float, str]] = []  # heap of (last seen, story) for retention
        self._sums = np.zeros((1024, dim), dtype=np.float32)
        self._centroids = np.zeros((1024, dim), dtype=np.float32)
        self._free_rows: list[int] = []
        self._rows_used = 0
        self._term_buckets: dict[int, Counter[str]] = {}
        self._background_buckets: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.stories)

    def bucket_of(self, created_at: float) -> int:
        return int(created_at // self.config.bucket_s)

    def resolve(self, sid: str) -> str:
        """The id a story id means now: itself, or the story it merged into."""
        with self.lock:
            seen = sid
            while seen in self.aliases:
                seen = self.aliases[seen]
            return seen

    def story_of(self, post_id: str) -> str | None:
        """The (resolved) story id of a tracked post."""
        with self.lock:
            entry = self.posts.get(post_id)
            return None if entry is None else self.resolve(entry.story)

    def centroid(self, story: Story) -> np.ndarray:
        """The story's normalised mean vector (a copy)."""
        return self._centroids[story.row].copy()

    def vector_sum(self, story: Story) -> np.ndarray:
        return self._sums[story.row].copy()

    def observe(
        self,
        posts: Sequence[PostRecord],
        vectors: np.ndarray,
        deletes: Sequence[str] = (),
        deleted_vectors: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Add one applied batch: posts with their normalised vectors, then deleted post ids.

        A post id already tracked keeps its story (an upsert or a re-read after a restart).
        ``deleted_vectors`` (post id -> the vector it joined with) lets a delete take the
        post out of its story's centroid too; without it only its counts and words go.
        """
        if len(posts) != len(vectors):
            raise ValueError(f"{len(posts)} posts but {len(vectors)} vectors")
        with self.lock:
            fresh = [i for i, post in enumerate(posts) if post.post_id not in self.posts]
            if fresh:
                newest = max(posts[i].created_at for i in fresh)
                self.now = max(self.now, min(newest, time.time() + FUTURE_SLACK_S))
                self._expire_live()
                fresh.sort(key=lambda i: posts[i].created_at)
                self._assign([posts[i] for i in fresh], np.asarray(vectors, np.float32)[fresh])
            for post_id in deletes:
                self._remove_post(post_id, (deleted_vectors or {}).get(post_id))
            self._advance_background()
            self._evict()

    def _assign(self, posts: list[PostRecord], vectors: np.ndarray) -> None:
        before = len(self._live)  # stories joined from here on in this batch are compared one by one
        sims = vectors @ self._live.matrix.T
        touched: dict[str, None] = {}
        for i, post in enumerate(posts):
            key = repost_key(post.text)
            story = self._by_key(key)
            if story is None:
                story = self._nearest(sims[i], before, vectors[i])
            if story is None:
                story = self._start(post)
            self._join(story, post, vectors[i], key)
            touched[story.id] = None
        self._merge_similar([sid for sid in touched if sid in self.stories])

    def _by_key(self, key: str | None) -> Story | None:
        if key is None or (sid := self._keys.get(key)) is None:
            return None
        return self.stories.get(self.resolve(sid))

    def _nearest(self, sims: np.ndarray, before: int, vector: np.ndarray) -> Story | None:
        """The most similar live story within the threshold: ``sims`` against the first ``before``
        live stories (from the start of the batch), the rest (joined since) computed now."""
        best, best_sim = None, self.config.join_threshold
        if len(sims):
            j = int(np.argmax(sims))
            if sims[j] >= best_sim:
                best, best_sim = self.stories.get(self._live.ids[j]), float(sims[j])
        if len(self._live) > before:
            new_sims = self._live.matrix[before:] @ vector
            j = int(np.argmax(new_sims))
            if new_sims[j] >= best_sim:
                best = self.stories.get(self._live.ids[before + j])
        return best

    def _start(self, post: PostRecord) -> Story:
        sid = story_id(post.post_id)
        while sid in self.stories or sid in self.aliases:  # a hash collision: extend the id
            sid = story_id(sid)
        row = self._free_rows.pop() if self._free_rows else self._claim_row()
        self._sums[row] = 0
        story = Story(id=sid, row=row, first_seen=post.created_at, last_seen=post.created_at)
        self.stories[sid] = story
        return story

    def _claim_row(self) -> int:
        row = self._rows_used
        self._rows_used += 1
        if row >= len(self._sums):
            self._sums = np.resize(self._sums, (2 * len(self._sums), self.dim))
            self._centroids = np.resize(self._centroids, (2 * len(self._centroids), self.dim))
        return row

    def _join(self, story: Story, post: PostRecord, vector: np.ndarray, key: str | None) -> None:
        entry = PostEntry(
            story.id, self.bucket_of(post.created_at), post.author, key, tuple(terms(post.text))
        )
        self.posts[post.post_id] = entry
        self._count(story, post.post_id, entry, +1)
        story.first_seen = min(story.first_seen, post.created_at)
        story.last_seen = max(story.last_seen, post.created_at)
        self._sums[story.row] += vector
        self._refresh_centroid(story.row)
        if key is not None:
            self._keys.setdefault(key, story.id)
            story.key_post.setdefault(key, post.post_id)
        self._live.put(story.id, self._centroids[story.row])
        heapq.heappush(self._quiet, (story.last_seen, story.id))
        self._add_background(entry, +1)

    def _count(self, story: Story, post_id: str, entry: PostEntry, sign: int) -> None:
        if sign > 0:
            story.posts[post_id] = None
        else:
            story.posts.pop(post_id, None)
        story.buckets[entry.bucket] = story.buckets.get(entry.bucket, 0) + sign
        if story.buckets[entry.bucket] <= 0:
            del story.buckets[entry.bucket]
        story.authors[entry.author] += sign
        story_terms = story.terms
        for term in entry.terms:
            story_terms[term] += sign
        if entry.key is not None:
            story.keys[entry.key] += sign
        if sign < 0:
            for counter in (story.authors, story.terms, story.keys):
                for name in [n for n, c in counter.items() if c <= 0]:
                    del counter[name]

    def _refresh_centroid(self, row: int) -> None:
        vector_sum = self._sums[row]
        norm = math.sqrt(float(vector_sum @ vector_sum))
        self._centroids[row] = vector_sum / norm if norm > 0 else 0

    def _merge_similar(self, touched: list[str]) -> None:
        """Merge touched stories into similar live ones; the smaller id becomes an alias."""
        minimum = self.config.merge_min_posts
        big = [sid for sid in self._live.ids if len(self.stories[sid].posts) >= minimum]
        mine = [sid for sid in touched if len(self.stories[sid].posts) >= minimum]
        if not mine or len(big) < 2:
            return
        rows_big = [self.stories[sid].row for sid in big]
        sims = self._centroids[[self.stories[sid].row for sid in mine]] @ self._centroids[rows_big].T
        pairs = [
            (float(sims[i, j]), mine[i], big[j])
            for i, j in zip(*np.nonzero(sims >= self.config.merge_threshold), strict=True)
            if mine[i] != big[j]
        ]
        for _, a, b in sorted(pairs, reverse=True):
            if a in self.stories and b in self.stories:
                self.merge(a, b)

    def merge(self, a: str, b: str) -> str:
        """Merge two stories; the larger one keeps its id (``_survival_rank``). Returns that id."""
        with self.lock:
            first, second = self.stories[self.resolve(a)], self.stories[self.resolve(b)]
            if first.id == second.id:
                return first.id
            survivor, gone = sorted((first, second), key=self._survival_rank)
            for post_id in gone.posts:
                entry = self.posts[post_id]
                self.posts[post_id] = PostEntry(
                    survivor.id, entry.bucket, entry.author, entry.key, entry.terms
                )
                self._count(survivor, post_id, entry, +1)
            for key, post_id in gone.key_post.items():
                survivor.key_post.setdefault(key, post_id)
                self._keys[key] = survivor.id
            survivor.first_seen = min(survivor.first_seen, gone.first_seen)
            survivor.last_seen = max(survivor.last_seen, gone.last_seen)
            self._sums[survivor.row] += self._sums[gone.row]
            self._refresh_centroid(survivor.row)
            self.aliases[gone.id] = survivor.id
            self._drop(gone)
            self._live.put(survivor.id, self._centroids[survivor.row])
            heapq.heappush(self._quiet, (survivor.last_seen, survivor.id))
            log.debug("story %s merged into %s", gone.id, survivor.id)
            return survivor.id

    def _survival_rank(self, story: Story) -> tuple:
        """Which id a merge keeps: the larger story's, then the older one's.

        A trend stays listed while it cools (``index.trends``), so the large story is the
        one people have seen longest; a small burst that drifts into it takes its id, the
        burst's id resolving to it. (Keeping the burstier story's id renamed Boston's
        1,500-post story six times on 19 April 2013 in ``bench/trends_eval.py``.)
        """
        return (-len(story.posts), story.first_seen, story.id)

    def _drop(self, story: Story) -> None:
        del self.stories[story.id]
        self._live.remove(story.id)
        self._free_rows.append(story.row)

    def _remove_post(self, post_id: str, vector: np.ndarray | None = None) -> None:
        entry = self.posts.pop(post_id, None)
        if entry is None:
            return
        story = self.stories[self.resolve(entry.story)]
        self._count(story, post_id, entry, -1)
        if vector is not None and story.posts:
            self._sums[story.row] -= vector
            self._refresh_centroid(story.row)
            if story.id in self._live:
                self._live.put(story.id, self._centroids[story.row])
        self._add_background(entry, -1)
        if entry.key is not None and story.key_post.get(entry.key) == post_id:
            others = [p for p in story.posts if self.posts[p].key == entry.key]
            if others:
                story.key_post[entry.key] = others[0]
            else:
                del story.key_post[entry.key]
                if self._keys.get(entry.key) == story.id:
                    del self._keys[entry.key]
        if not story.posts:  # an empty story is gone
            self._forget(story)

    def _forget(self, story: Story) -> None:
        for key in story.key_post:
            if self._keys.get(key) == story.id:
                del self._keys[key]
        for post_id in story.posts:
            self.posts.pop(post_id, None)
        self._drop(story)
        for old in [old for old, new in self.aliases.items() if new == story.id]:
            del self.aliases[old]

    def _expire_live(self, force: bool = False) -> None:
        """Stop matching stories quiet for their time to live (swept once per bucket)."""
        bucket = self.bucket_of(self.now)
        if bucket == self._expired_at and not force:
            return
        self._expired_at = bucket
        cfg = self.config
        for sid in list(self._live.ids):
            story = self.stories.get(sid)
            ttl = cfg.story_ttl_s if story and len(story.posts) > 1 else cfg.singleton_ttl_s
            if story is None or self.now - story.last_seen > ttl:
                self._live.remove(sid)

    def _evict(self) -> None:
        """Forget stories quiet for ``retention_s``."""
        horizon = self.now - self.config.retention_s
        while self._quiet and self._quiet[0][0] < horizon:
            _, sid = heapq.heappop(self._quiet)
            story = self.stories.get(sid)
            if story is not None and story.last_seen < horizon:  # else a newer entry is in the heap
                self._forget(story)

    def _add_background(self, entry: PostEntry, sign: int) -> None:
        oldest = self.bucket_of(self.now - self.config.background_s) + 1
        if entry.bucket < oldest:
            return
        bucket_terms = self._term_buckets.setdefault(entry.bucket, Counter())
        background = self.background
        for term in entry.terms:
            bucket_terms[term] += sign
            background[term] += sign
        self._background_buckets[entry.bucket] = self._background_buckets.get(entry.bucket, 0) + sign
        self.background_posts += sign

    def _advance_background(self) -> None:
        oldest = self.bucket_of(self.now - self.config.background_s) + 1
        if not self._term_buckets or min(self._term_buckets) >= oldest:
            return
        for bucket in [b for b in self._term_buckets if b < oldest]:
            counts = self._term_buckets.pop(bucket)
            self.background.subtract(counts)
            self.background_posts -= self._background_buckets.pop(bucket, 0)
            for term in counts:
                if self.background.get(term, 1) <= 0:
                    del self.background[term]

    def recent(self, since: float, min_posts: int) -> list[Story]:
        """Stories of at least ``min_posts`` posts with a post created at or after ``since``."""
        with self.lock:
            cfg = self.config
            narrow = min_posts >= 2 and since >= self.now - cfg.story_ttl_s  # then all are still active
            pool = self._live.ids if narrow else self.stories
            return [
                story
                for sid in pool
                if (story := self.stories.get(sid)) is not None
                and story.last_seen >= since
                and len(story.posts) >= min_posts
            ]

    def term_series(self, term: str) -> dict[int, int]:
        """Posts per bucket that use ``term``, over the background span."""
        with self.lock:
            return {b: c[term] for b, c in self._term_buckets.items() if c.get(term, 0) > 0}

    def recent_terms(self, first_bucket: int) -> Counter[str]:
        """Term counts in buckets from ``first_bucket`` on (within the background span)."""
        with self.lock:
            total: Counter[str] = Counter()
            for bucket, counts in self._term_buckets.items():
                if bucket >= first_bucket:
                    total.update(counts)
            return total

    def rebuild(
        self,
        now: float,
        stories: list[tuple[str, float, float, dict[str, str]]],
        sums: np.ndarray,
        entries: list[tuple[str, PostEntry]],
        aliases: dict[str, str],
    ) -> None:
        """Replace everything with exported parts (``index.story_state`` decodes them)."""
        with self.lock:
            self._reset()
            for (sid, first, last, key_post), vector_sum in zip(stories, sums, strict=True):
                row = self._claim_row()
                story = Story(id=sid, row=row, first_seen=first, last_seen=last, key_post=dict(key_post))
                self.stories[sid] = story
                self._sums[row] = vector_sum
                self._refresh_centroid(row)
                for key in key_post:
                    self._keys[key] = sid
            for post_id, entry in entries:
                self.posts[post_id] = entry
                self._count(self.stories[entry.story], post_id, entry, +1)
            self.now = now
            self.aliases = dict(aliases)
            for entry in self.posts.values():
                self._add_background(entry, +1)
            for story in self.stories.values():
                self._live.put(story.id, self._centroids[story.row])
                heapq.heappush(self._quiet, (story.last_seen, story.id))
            self._expire_live(force=True)
