"""HTTP models of ``GET /v1/trends`` (issue 5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel

from index.trends import Trend, TrendPost
from rag.story_summary import StorySummary

WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
MAX_WINDOW_S = 7 * 86_400


def parse_window(text: str) -> float:
    """``90s``, ``30m``, ``1h``, ``2d`` → seconds.

    Raises:
        ValueError: another form, zero, or more than 7 days.
    """
    match = WINDOW.match(text)
    if not match:
        raise ValueError(f"window {text!r} is not a number with a unit s, m, h or d (e.g. 1h)")
    seconds = float(match.group(1)) * UNIT_S[match.group(2)]
    if not 0 < seconds <= MAX_WINDOW_S:
        raise ValueError(f"window must be more than 0 and at most 7d, got {text!r}")
    return seconds


def to_time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


class TrendPostOut(BaseModel):
    id: str
    text: str | None  # None when the post is no longer in the index (deleted or evicted)
    created_at: datetime | None

    @classmethod
    def of(cls, post: TrendPost) -> TrendPostOut:
        return cls(id=post.post_id, text=post.text, created_at=to_time(post.created_at))


class VolumePoint(BaseModel):
    start: datetime
    posts: int


class TrendOut(BaseModel):
    id: str
    label: str
    keywords: list[str]
    score: float
    volume: int
    series: list[VolumePoint]
    first_seen: datetime
    last_seen: datetime
    posts: int
    authors: int
    trending: bool
    representative: TrendPostOut | None
    top_posts: list[TrendPostOut]
    # The LLM's one-line summary of the story (None: none written yet, summaries off, or the model
    # gave nothing usable) and when it was written; refreshed when the story changes a lot.
    summary: str | None = None
    summary_at: datetime | None = None

    @classmethod
    def of(cls, trend: Trend, summary: StorySummary | None = None) -> TrendOut:
        return cls(
            id=trend.id,
            label=trend.label,
            keywords=trend.keywords,
            score=trend.score,
            volume=trend.volume,
            series=[VolumePoint(start=to_time(start), posts=count) for start, count in trend.series],
            first_seen=to_time(trend.first_seen),
            last_seen=to_time(trend.last_seen),
            posts=trend.posts,
            authors=trend.authors,
            trending=trend.trending,
            representative=TrendPostOut.of(trend.representative) if trend.representative else None,
            top_posts=[TrendPostOut.of(post) for post in trend.top_posts],
            summary=summary.text if summary else None,
            summary_at=to_time(summary.written_at) if summary and summary.text else None,
        )


class TermOut(BaseModel):
    term: str
    score: float
    volume: int


class TrendsResponse(BaseModel):
    window: str
    since: datetime | None  # the window ends at the newest post seen; None before any post
    until: datetime | None
    trends: list[TrendOut]
    terms: list[TermOut]  # bursting hashtags and keywords in the same window


class StoryResponse(BaseModel):
    requested_id: str
    story: TrendOut  # story.id differs from requested_id when the requested story was merged
