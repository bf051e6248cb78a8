"""GET /v1/trends and GET /v1/trends/{id}: bursting and cooling stories (logic in ``index.trends``)."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from index.trends import Trend, TrendTracker
from serve.components import Components
from serve.deps import ComponentsDep
from serve.trends_schemas import StoryResponse, TermOut, TrendOut, TrendsResponse, parse_window, to_time

router = APIRouter(prefix="/v1", tags=["trends"])


def _tracker(components: ComponentsDep) -> TrendTracker:
    if components.trends is None:
        raise HTTPException(404, "trends are disabled (FEEDPULSE_TRENDS__ENABLED=false)")
    return components.trends


def _out(components: Components, trend: Trend) -> TrendOut:
    summaries = components.summaries
    return TrendOut.of(trend, summaries.get(trend.id) if summaries is not None else None)


def _window(window: str) -> float:
    try:
        return parse_window(window)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/trends", response_model=TrendsResponse)
async def trends(
    components: ComponentsDep,
    window: str = "1h",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    q: Annotated[str | None, Query(max_length=500)] = None,
) -> TrendsResponse:
    """Stories bursting (or cooling from a burst) in the window that ends at the newest post; [] when none."""
    tracker = _tracker(components)
    window_s = _window(window)
    top = await asyncio.to_thread(tracker.top, window_s, limit, q)
    terms = await asyncio.to_thread(tracker.terms, window_s, limit)
    first, _ = tracker.window(window_s)
    seen = tracker.stories.now > 0
    bucket_s = tracker.config.bucket_s
    return TrendsResponse(
        window=window,
        since=to_time(first * bucket_s) if seen else None,
        until=to_time(tracker.stories.now) if seen else None,
        trends=[_out(components, trend) for trend in top],
        terms=[TermOut(term=t.term, score=t.score, volume=t.volume) for t in terms],
    )


@router.get("/trends/{story_id}", response_model=StoryResponse)
async def story(components: ComponentsDep, story_id: str) -> StoryResponse:
    """One story over its life; a merged id answers with the story it merged into."""
    found = await asyncio.to_thread(_tracker(components).story, story_id)
    if found is None:
        raise HTTPException(404, f"no story {story_id}")
    return StoryResponse(requested_id=story_id, story=_out(components, found))
