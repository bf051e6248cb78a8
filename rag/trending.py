"""Questions like "what's trending (about X)?" answered from the trend tracker, not the LLM.

The answer lists the top trends with their volume and cites each trend's
representative post, checked live in the index (a deleted post is never cited).
"""

from __future__ import annotations

import re
import time

from index.records import PostRecord, SearchHit
from index.store import PostStore
from index.trends import Trend, TrendTracker
from rag.citations import Citation
from rag.engine import Answer, Freshness
from rag.retrieval import Retrieval

TRENDING = re.compile(
    r"^\s*(?:what(?:'s|\s+is|\s+are)|which\s+(?:stories|topics)\s+are)\s+"
    r"(?:(?:is|are)\s+)?(?:trending|hot|viral|blowing\s+up|popular)(?:\s+(?:right\s+)?now)?"
    r"(?:\s+(?:about|on|in|with|around|for|re)\s+(?P<topic>.+?))?\s*[?.!]*\s*$",
    re.IGNORECASE,
)
NO_TRENDS_ANSWER = "Nothing is trending in the last {window} of indexed posts{about}."


def trending_topic(question: str) -> tuple[bool, str | None]:
    """Whether the question asks what is trending, and about what (None: anything)."""
    match = TRENDING.match(question)
    if match is None:
        return False, None
    topic = (match.group("topic") or "").strip() or None
    return True, topic


def answer_from_trends(
    question: str, topic: str | None, tracker: TrendTracker, store: PostStore, window_s: float, limit: int = 5
) -> Answer:
    """Rank the trends in the window and describe them, citing each one's representative post."""
    started = time.perf_counter()
    trends = tracker.top(window_s, limit, topic)
    citations, lines = [], []
    for trend in trends:
        record = _live_post(store, trend)
        if record is not None:
            citations.append(
                Citation(len(citations) + 1, SearchHit(record, round(trend.score, 4)), inferred=False)
            )
        marker = f" [{len(citations)}]" if record is not None else ""
        state = f"burst score {trend.score:.1f}" if trend.score >= tracker.config.min_score else "cooling"
        lines.append(f"{_name(trend)} — {trend.volume} posts, {state}{marker}")
    about = f" about {topic}" if topic else ""
    text = (
        f"Trending{about} now: " + "; ".join(lines) + "."
        if lines
        else NO_TRENDS_ANSWER.format(window=_duration(window_s), about=about)
    )
    stats = store.stats()
    now = time.time()
    newest = stats.newest_created_at or now  # trends run on created time, so a replay is like live
    return Answer(
        question,
        text,
        citations,
        Retrieval([c.hit for c in citations], newest - window_s, newest),
        None,
        {"retrieve_ms": round((time.perf_counter() - started) * 1000, 2)},
        freshness=Freshness.of(stats, now),
    )


def _live_post(store: PostStore, trend: Trend) -> PostRecord | None:
    for post in [trend.representative, *trend.top_posts]:
        if post is not None and (record := store.get(post.post_id)) is not None:
            return record
    return None


def _name(trend: Trend) -> str:
    if trend.label:
        return trend.label
    text = trend.representative.text if trend.representative and trend.representative.text else ""
    return f"“{text[:80]}”" if text else f"story {trend.id}"


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g} h" if hours >= 1 else f"{seconds / 60:g} min"
