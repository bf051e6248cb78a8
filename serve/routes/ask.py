"""POST /v1/ask: a generated answer with the posts it cites, whole or as server-sent events.

"What's trending (about X)?" is answered from the trend tracker instead (``rag.trending``).
"""

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator

from fastapi import APIRouter
from fastapi.responses import Response

from rag.engine import Answer
from rag.errors import GenerationUnavailable
from rag.trending import answer_from_trends, trending_topic
from serve.deps import ComponentsDep
from serve.schemas import (
    AskRequest,
    AskResponse,
    AskTimings,
    AsOf,
    CitationOut,
    FlaggedPostOut,
    PostOut,
    RemovalOut,
    TimeWindow,
    UnsupportedCitationOut,
    to_datetime,
)
from serve.sse import EventStream, error_body, event

router = APIRouter(prefix="/v1", tags=["answers"])

STREAM_DOC = {
    200: {
        "description": 'JSON, or with `stream: true` server-sent events: `token` (`{"text"}`), '
        'then `answer` (the same body as without streaming) or `error` (`{"error": {type, message}}`)',
        "content": {"text/event-stream": {}},
    }
}


@router.post("/ask", response_model=AskResponse, responses=STREAM_DOC)
async def ask(request: AskRequest, components: ComponentsDep) -> AskResponse | Response:
    """Answer a question from the posts indexed in the window (default: the last 24 h).

    LLM down: 503; LLM too slow: 504. With ``stream``, those apply until the
    first token; later failures end the stream with an ``error`` event.
    """
    window = {
        "k": request.k,
        "since": request.since.timestamp() if request.since else None,
        "until": request.until.timestamp() if request.until else None,
    }
    asks_trending, topic = trending_topic(request.question)
    if asks_trending and components.trends is not None:
        answer = await asyncio.to_thread(
            answer_from_trends,
            request.question,
            topic,
            components.trends,
            components.store,
            _window_s(request, components.settings.trends.default_window_s),
        )
        return EventStream(_events(answer, _ended())) if request.stream else to_response(answer)
    if not request.stream:
        return to_response(await components.engine.ask(request.question, **window))
    pieces = components.engine.ask_stream(request.question, **window)
    try:
        first = await anext(pieces)  # retrieval and the first token: errors here are HTTP statuses
    except BaseException:
        await pieces.aclose()
        raise
    return EventStream(_events(first, pieces))


def _window_s(request: AskRequest, default_s: float) -> float:
    if request.since is None:
        return default_s
    until = request.until.timestamp() if request.until else time.time()
    return max(60.0, until - request.since.timestamp())


async def _ended() -> AsyncGenerator[str | Answer, None]:
    return
    yield  # an async generator with nothing to give: the answer was complete up front


async def _events(first: str | Answer, pieces: AsyncGenerator[str | Answer, None]) -> AsyncIterator[str]:
    try:
        piece = first
        while True:
            if isinstance(piece, Answer):
                yield event(to_response(piece).model_dump(mode="json"), "answer")
                return
            yield event({"text": piece}, "token")
            piece = await anext(pieces)
    except GenerationUnavailable as exc:
        yield event(error_body(exc), "error")
    finally:
        await pieces.aclose()


def to_response(answer: Answer) -> AskResponse:
    timings = answer.timings_ms
    risks = answer.retrieval.risks
    freshness = answer.freshness
    return AskResponse(
        question=answer.question,
        answer=answer.text,
        generated=answer.generation is not None,
        model=answer.generation.model if answer.generation else None,
        citations=[
            CitationOut(
                **PostOut.from_record(c.hit.post).model_dump(),
                number=c.number,
                score=round(c.hit.score, 4),
                inferred=c.inferred,
                injection_risk=risks.get(c.hit.post.post_id),
            )
            for c in answer.citations
        ],
        unsupported_citations=[
            UnsupportedCitationOut(number=u.number, post_id=u.post_id, reason=u.reason, sentence=u.sentence)
            for u in answer.unsupported_citations
        ],
        unsupported_sentences=answer.unsupported_sentences,
        removals=[RemovalOut(sentence=r.sentence, reason=r.reason, detail=r.detail) for r in answer.removals],
        flagged_posts=[
            FlaggedPostOut(
                **PostOut.from_record(f.hit.post).model_dump(),
                injection_risk=f.risk.score,
                reasons=list(f.risk.reasons),
                action="excluded" if f.excluded else "downweighted",
            )
            for f in answer.retrieval.flagged
        ],
        as_of=AsOf(
            newest_post_at=to_datetime(freshness.newest_post_at if freshness else None),
            offsets=freshness.offsets if freshness else {},
        ),
        index_lag_seconds=freshness.index_lag_s if freshness else None,
        window=TimeWindow(
            since=to_datetime(answer.retrieval.since), until=to_datetime(answer.retrieval.until)
        ),
        timings=AskTimings(
            retrieve_ms=timings.get("retrieve_ms", 0.0),
            generate_ms=timings.get("generate_ms", 0.0),
            attribute_ms=timings.get("attribute_ms", 0.0),
            total_ms=round(sum(timings.values()), 2),
        ),
    )
