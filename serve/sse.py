"""Server-sent events: the response type and the framing both streaming routes use."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from rag.errors import GenerationTimeout, GenerationUnavailable


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response that always closes its body generator.

    Starlette cancels the body when the client disconnects; closing the
    generator here as well reaches the generator's ``finally`` blocks even when
    the cancellation landed in ``send``, so the LLM stream is closed either way.
    """

    def __init__(self, body: AsyncGenerator[str, None]) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._body.aclose()


def event(data: Any, name: str | None = None) -> str:
    """One event: optional ``event:`` line, one ``data:`` line of JSON (or a literal string)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (f"event: {name}\n" if name else "") + f"data: {payload}\n\n"


def error_body(exc: GenerationUnavailable) -> dict[str, Any]:
    """The error shape of the JSON API, for an error that ends a stream after it began."""
    kind = "llm_timeout" if isinstance(exc, GenerationTimeout) else "llm_unavailable"
    return {"error": {"type": kind, "message": str(exc)}}
