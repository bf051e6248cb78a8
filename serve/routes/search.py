"""GET /v1/search: posts most similar to a query, within an optional time window."""

import asyncio
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from serve.deps import ComponentsDep
from serve.schemas import PostOut, SearchHitOut, SearchResponse, TimeWindow, to_datetime

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchResponse)
async def search(
    components: ComponentsDep,
    q: Annotated[str, Query(min_length=1, max_length=2_000)],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SearchResponse:
    """Top-k distinct posts for ``q``; without since/until, all indexed posts are searched."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a time zone, e.g. 2013-04-15T18:00:00Z")
    if since and until and since > until:
        raise HTTPException(422, "since must not be after until")
    started = time.perf_counter()
    retrieval = await asyncio.to_thread(
        components.retriever.retrieve,
        q,
        k,
        since.timestamp() if since else None,
        until.timestamp() if until else None,
        recent_window=False,
    )
    return SearchResponse(
        query=q,
        hits=[
            SearchHitOut(**PostOut.from_record(hit.post).model_dump(), score=round(hit.score, 4))
            for hit in retrieval.hits
        ],
        window=TimeWindow(since=to_datetime(retrieval.since), until=to_datetime(retrieval.until)),
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
