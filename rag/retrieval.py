"""Retrieval: embed the question, search a creation-time window, drop near-duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from index.embedder import Embedder
from index.records import SearchHit
from index.store import PostStore
from rag.config import RetrievalConfig
from rag.text import dedup_key, is_repost

HOUR_S = 3600.0


@dataclass(slots=True, frozen=True)
class Retrieval:
    """Hits for a query and the window that was searched (Unix seconds, None = open)."""

    hits: list[SearchHit]
    since: float | None
    until: float | None


class Retriever:
    """Finds the posts most similar to a query within a time window."""

    def __init__(self, embedder: Embedder, store: PostStore, config: RetrievalConfig) -> None:
        self._embedder = embedder
        self._store = store
        self._config = config

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        since: float | None = None,
        until: float | None = None,
        *,
        recent_window: bool = True,
    ) -> Retrieval:
        """Top-k distinct posts for ``query``.

        Args:
            since, until: the creation-time window (Unix seconds).
            recent_window: when neither bound is given, search the configured
                window ending at the newest indexed post, instead of everything.
        """
        k = k or self._config.k
        since, until = self._window(since, until, recent_window)
        vector = self._embedder.embed([query])[0]
        hits = self._store.search(vector, k * self._config.overfetch, since, until)
        return Retrieval(hits=_distinct(hits, k), since=since, until=until)

    def _window(
        self, since: float | None, until: float | None, recent_window: bool
    ) -> tuple[float | None, float | None]:
        span = self._config.window_hours * HOUR_S
        if since is None and until is None:
            if not recent_window:
                return None, None
            newest = self._store.stats().newest_created_at
            return (None, None) if newest is None else (newest - span, newest)
        if since is None and until is not None:
            return until - span, until
        return since, until


def _distinct(hits: list[SearchHit], k: int) -> list[SearchHit]:
    """The best k hits with one post per text: an original is preferred to its reposts."""
    kept: dict[str, SearchHit] = {}
    for hit in hits:
        key = dedup_key(hit.post.text)
        if key not in kept:
            if len(kept) < k:
                kept[key] = hit
        elif is_repost(kept[key].post.text) and not is_repost(hit.post.text):
            kept[key] = hit
    return list(kept.values())
