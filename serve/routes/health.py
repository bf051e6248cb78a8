"""Liveness, readiness and statistics."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serve.deps import ComponentsDep
from serve.schemas import Check, IngestStatsOut, ReadinessResponse, StatsResponse, to_datetime

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadinessResponse, responses={503: {"model": ReadinessResponse}})
async def readyz(components: ComponentsDep) -> JSONResponse:
    """200 when the broker, the index and the LLM are all usable; 503 with the reasons otherwise."""
    (broker_ok, broker_msg), (llm_ok, llm_msg) = await asyncio.gather(
        components.broker_status(), components.generator.health()
    )
    index_ok, index_msg = components.index_status()
    checks = {
        "broker": Check(ok=broker_ok, detail=broker_msg),
        "index": Check(ok=index_ok, detail=index_msg),
        "llm": Check(ok=llm_ok, detail=llm_msg),
    }
    body = ReadinessResponse(ready=broker_ok and index_ok and llm_ok, checks=checks)
    return JSONResponse(status_code=200 if body.ready else 503, content=body.model_dump())


@router.get("/v1/stats", response_model=StatsResponse)
async def stats(components: ComponentsDep) -> StatsResponse:
    """Posts indexed, offsets applied per partition, consumer lag, ingest counters."""
    index_stats = components.store.stats()
    ingest = components.ingest
    progress = ingest.worker.progress if ingest else None
    return StatsResponse(
        posts_indexed=index_stats.posts,
        vectors=index_stats.vectors,
        segments=index_stats.segments,
        deletes_remembered=index_stats.deletes_remembered,
        newest_created_at=to_datetime(index_stats.newest_created_at),
        oldest_created_at=to_datetime(index_stats.oldest_created_at),
        applied_offsets=index_stats.applied_offsets,
        consumer_lag=dict(progress.consumer_lag) if progress else {},
        ingest=IngestStatsOut(
            running=ingest.running,
            connected=progress.connected,
            batches=progress.batches,
            posts_indexed=progress.posts_indexed,
            posts_deleted=progress.posts_deleted,
            dead_letters=progress.dead_letters,
            last_error=progress.last_error,
        )
        if ingest and progress
        else None,
    )
