"""One error response shape for every expected failure: ``{"error": {"type", "message"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from index.errors import IndexStoreError
from ingest.errors import IngestError
from rag.errors import GenerationTimeout, GenerationUnavailable

log = logging.getLogger(__name__)


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"type": kind, "message": message}})


def install_error_handlers(app: FastAPI) -> None:
    """Map our error trees and FastAPI's own errors to the one response shape."""

    @app.exception_handler(GenerationUnavailable)
    async def _llm_down(_: Request, exc: GenerationUnavailable) -> JSONResponse:
        return error_response(503, "llm_unavailable", str(exc))

    @app.exception_handler(GenerationTimeout)
    async def _llm_slow(_: Request, exc: GenerationTimeout) -> JSONResponse:
        return error_response(504, "llm_timeout", str(exc))

    @app.exception_handler(IngestError)
    async def _ingest(_: Request, exc: IngestError) -> JSONResponse:
        return error_response(503, "broker_unavailable", str(exc))

    @app.exception_handler(IndexStoreError)
    async def _index(_: Request, exc: IndexStoreError) -> JSONResponse:
        log.error("index error: %s", exc)
        return error_response(500, "index_error", str(exc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return error_response(422, "invalid_request", details)
