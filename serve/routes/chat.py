"""OpenAI-compatible chat API: ``POST /v1/chat/completions`` and ``GET /v1/models`` (model ``feedpulse``).

The last user message is the question; earlier user and assistant turns are
context (the previous user turn joins the search query, recent turns are shown
to the model). Client system messages are not passed on: feedpulse's own rules
rank above everything a request carries. Citations, freshness and flagged posts
travel in the extra field ``feedpulse`` (the body of ``/v1/ask``); when streaming,
in the last chunk before ``[DONE]``. Streamed deltas are the model's raw text;
``feedpulse.answer`` is the tidied text the citations refer to.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from rag.engine import Answer
from rag.errors import GenerationUnavailable
from serve.deps import ComponentsDep
from serve.openai_schemas import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    Usage,
)
from serve.routes.ask import to_response
from serve.sse import EventStream, error_body, event

router = APIRouter(prefix="/v1", tags=["openai"])
STARTED = int(time.time())


@router.get("/models", response_model=ModelList)
async def models() -> ModelList:
    """The one model this API serves: ``feedpulse`` (answers grounded in the indexed posts)."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=STARTED)])


@router.post("/chat/completions", response_model=ChatCompletion)
async def chat_completions(
    request: ChatCompletionRequest, components: ComponentsDep
) -> ChatCompletion | Response:
    """Answer the last user message, as an OpenAI chat completion (or its chunk stream)."""
    if request.model != MODEL_ID:
        raise HTTPException(404, f"model {request.model!r} does not exist; this server serves {MODEL_ID!r}")
    question, history = _conversation(request)
    options = {
        "k": request.k,
        "since": request.since.timestamp() if request.since else None,
        "until": request.until.timestamp() if request.until else None,
        "history": history,
    }
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if not request.stream:
        answer = await components.engine.ask(question, **options)
        return ChatCompletion(
            id=completion_id,
            created=int(time.time()),
            choices=[
                Choice(message=AssistantMessage(content=answer.text), finish_reason=_finish_reason(answer))
            ],
            usage=_usage(answer),
            feedpulse=to_response(answer),
        )
    pieces = components.engine.ask_stream(question, **options)
    try:
        first = await anext(pieces)  # errors before the first token are HTTP statuses
    except BaseException:
        await pieces.aclose()
        raise
    include_usage = bool((request.stream_options or {}).get("include_usage"))
    return EventStream(_chunks(completion_id, first, pieces, include_usage))


def _conversation(request: ChatCompletionRequest) -> tuple[str, list[tuple[str, str]]]:
    turns = [(m.role, m.text().strip()) for m in request.messages if m.role in ("user", "assistant")]
    last_user = max((i for i, (role, text) in enumerate(turns) if role == "user" and text), default=None)
    if last_user is None:
        raise HTTPException(422, "messages need a user message with text: it is the question")
    return turns[last_user][1][:2_000], turns[:last_user]


async def _chunks(
    completion_id: str, first: str | Answer, pieces: AsyncGenerator[str | Answer, None], include_usage: bool
) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(delta: dict, finish_reason: str | None = None, **extra: object) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [choice],
        }
        return event(body | extra)

    try:
        yield chunk({"role": "assistant", "content": ""})
        piece = first
        while not isinstance(piece, Answer):
            yield chunk({"content": piece})
            piece = await anext(pieces)
        if not piece.generation:  # no posts: the whole answer is one delta
            yield chunk({"content": piece.text})
        yield chunk({}, _finish_reason(piece), feedpulse=to_response(piece).model_dump(mode="json"))
        if include_usage:
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
            }
            yield event(body | {"choices": [], "usage": _usage(piece).model_dump()})
        yield event("[DONE]")
    except GenerationUnavailable as exc:
        yield event(error_body(exc))
    finally:
        await pieces.aclose()


def _finish_reason(answer: Answer) -> str:
    return "length" if answer.generation and answer.generation.finish_reason == "length" else "stop"


def _usage(answer: Answer) -> Usage:
    prompt = answer.generation.prompt_tokens if answer.generation else 0
    completion = answer.generation.completion_tokens if answer.generation else 0
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
