"""Retrieval: embed the question, search a time window, screen for injections, drop near-duplicates."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.embedder import Embedder
from index.records import SearchHit
from index.store import PostStore
from rag.config import RetrievalConfig, SafetyConfig
from rag.injection_probe import InjectionProbe
from rag.safety import Risk
from rag.screening import Assessment, Screening
from rag.text import dedup_key, is_repost

HOUR_S = 3600.0


@dataclass(slots=True, frozen=True)
class FlaggedPost:
    """A candidate post that looked like a prompt injection: left out, or ranked lower."""

    hit: SearchHit  # with its original score
    risk: Risk
    excluded: bool


@dataclass(slots=True, frozen=True)
class Retrieval:
    """Hits for a query and the window that was searched (Unix seconds, None = open).

    ``risks`` holds the injection-risk score of every screened hit by post id;
    ``flagged`` the candidates screening excluded or down-weighted; ``doubtful``
    the shown posts the probe scored too close to an injection to be credited
    by inferred attribution (they may still be shown and cited by marker).
    """

    hits: list[SearchHit]
    since: float | None
    until: float | None
    flagged: list[FlaggedPost] = field(default_factory=list)
    risks: dict[str, float] = field(default_factory=dict)
    doubtful: frozenset[str] = frozenset()


class Retriever:
    """Finds the posts most similar to a query within a time window."""

    def __init__(
        self,
        embedder: Embedder,
        store: PostStore,
        config: RetrievalConfig,
        probe: InjectionProbe | None = None,
    ) -> None:
        """
        Args:
            probe: a learned injection signal on the candidates' embeddings, added to
                the pattern scorer's when screening (``rag/injection_probe.py``).
        """
        self._embedder = embedder
        self._store = store
        self._config = config
        self._screening = Screening(embedder, probe)

    @property
    def store(self) -> PostStore:
        return self._store

    @property
    def config(self) -> RetrievalConfig:
        return self._config

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        since: float | None = None,
        until: float | None = None,
        *,
        recent_window: bool = True,
        screen: bool = False,
    ) -> Retrieval:
        """Top-k distinct posts for ``query``.

        Args:
            since, until: the creation-time window (Unix seconds).
            recent_window: when neither bound is given, search the configured
                window ending at the newest indexed post, instead of everything.
            screen: score candidates for prompt injection and exclude or
                down-weight them (``retrieval.safety``); answers do, search does not.
        """
        k = k or self._config.k
        since, until = self._window(since, until, recent_window)
        vector = self._embedder.embed([query])[0]
        candidates = self._store.search(vector, k * self._config.overfetch, since, until)
        if not (screen and self._config.safety.enabled):
            return Retrieval(hits=_distinct(candidates, k), since=since, until=until)
        assessments = self._screening.assess([hit.post.text for hit in candidates])
        kept, flagged, risks = _screen(candidates, assessments, self._config.safety)
        hits = _distinct(kept, k)
        shown = {hit.post.post_id for hit in hits}
        flagged = [f for f in flagged if f.excluded or f.hit.post.post_id in shown]
        doubted = {hit.post.post_id for hit, a in zip(candidates, assessments, strict=True) if a.doubtful}
        return Retrieval(hits, since, until, flagged, risks, frozenset(shown & doubted))

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


def _screen(
    hits: list[SearchHit], assessments: list[Assessment], config: SafetyConfig
) -> tuple[list[SearchHit], list[FlaggedPost], dict[str, float]]:
    """Drop candidates at or above ``exclude_above``; rank risky ones lower by (1 - risk)."""
    kept: list[SearchHit] = []
    flagged: list[FlaggedPost] = []
    risks: dict[str, float] = {}
    for hit, assessment in zip(hits, assessments, strict=True):
        risk = assessment.risk
        risks[hit.post.post_id] = risk.score
        if risk.score >= config.exclude_above:
            flagged.append(FlaggedPost(hit, risk, excluded=True))
        elif risk.score >= config.downweight_above:
            flagged.append(FlaggedPost(hit, risk, excluded=False))
            kept.append(SearchHit(hit.post, hit.score * (1.0 - risk.score)))
        else:
            kept.append(hit)
    kept.sort(key=lambda hit: hit.score, reverse=True)
    return kept, flagged, risks


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
