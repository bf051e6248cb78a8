"""The LLM backend ``llm.backend`` names: a remote OpenAI-compatible server, or vLLM in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rag.generation import Generator, VLLMGenerator
from serve.daemons.vllm import resolve_dtype
from serve.settings import Settings


def engine_args(settings: Settings) -> dict:
    """AsyncEngineArgs for the in-process engine: the same model and flags as the local server."""
    server = settings.llm_server
    return {
        "model": str(server.model_dir),
        "max_model_len": server.max_model_len,
        "dtype": resolve_dtype(server.dtype),
        "kv_cache_memory_bytes": server.kv_cache_mib * 2**20,
        "enforce_eager": server.enforce_eager,
    }


@asynccontextmanager
async def open_generator(settings: Settings) -> AsyncIterator[Generator]:
    """The configured generator, open for the lifetime of the context."""
    if settings.llm.backend == "in_process":
        from rag.inprocess import InProcessGenerator

        async with InProcessGenerator(settings.llm, engine_args(settings)) as generator:
            yield generator
    else:
        async with VLLMGenerator(settings.llm) as generator:
            yield generator
