"""POST /v1/ask: a generated answer with the posts it cites."""

from fastapi import APIRouter

from rag.engine import Answer
from serve.deps import ComponentsDep
from serve.schemas import AskRequest, AskResponse, AskTimings, CitationOut, PostOut, TimeWindow, to_datetime

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/ask", response_model=AskResponse)
async def ask(request: AskRequest, components: ComponentsDep) -> AskResponse:
    """Answer a question from the posts indexed in the window (default: the last 24 h)."""
    answer = await components.engine.ask(
        request.question,
        k=request.k,
        since=request.since.timestamp() if request.since else None,
        until=request.until.timestamp() if request.until else None,
    )
    return to_response(answer)


def to_response(answer: Answer) -> AskResponse:
    timings = answer.timings_ms
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
            )
            for c in answer.citations
        ],
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
