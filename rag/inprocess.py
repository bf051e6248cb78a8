"""Generation with vLLM's AsyncLLM engine inside this process (``llm.backend = "in_process"``).

For single-process deployments: no separate server to start or reach. vLLM's
AsyncLLM still runs its engine core in a child process of ours (its async
client needs one); model, dtype and memory come from the same settings the
local server uses (``llm_server``). The ``vllm`` package is imported only when
this backend is chosen.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from rag.config import LLMConfig
from rag.errors import GenerationTimeout, GenerationUnavailable
from rag.generation import Generation
from rag.prompt import Prompt


class InProcessGenerator:
    """The ``Generator`` interface over ``vllm.v1.engine.async_llm.AsyncLLM``.

    Args:
        config: model name reported, prompt style, max_tokens, temperature, timeout_s.
        engine_args: keyword arguments of ``vllm.engine.arg_utils.AsyncEngineArgs``
            (model, dtype, max_model_len, kv_cache_memory_bytes, enforce_eager, ...).
    """

    def __init__(self, config: LLMConfig, engine_args: dict[str, Any]) -> None:
        self._config = config
        self._engine_args = engine_args
        self._engine: Any = None
        self._tokenizer: Any = None

    async def __aenter__(self) -> InProcessGenerator:
        # Same as the server (serve/daemons/vllm.py): no extra worker process on CPU.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        try:
            self._engine = await asyncio.to_thread(self._start)
        except Exception as exc:  # vLLM raises many kinds at start-up; all mean "no engine"
            raise GenerationUnavailable(f"in-process vLLM engine failed to start: {exc!r}") from exc
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.shutdown)
            self._engine = None

    def _start(self) -> Any:
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        args = {"served_model_name": [self._config.model], "disable_log_stats": True} | self._engine_args
        engine = AsyncLLM.from_engine_args(AsyncEngineArgs(**args))
        self._tokenizer = engine.get_tokenizer()
        return engine

    async def generate(self, prompt: Prompt) -> Generation:
        """One answer, or GenerationUnavailable (GenerationTimeout) saying why there is none."""
        async for piece in self.stream(prompt):
            if isinstance(piece, Generation):
                return piece
        raise GenerationUnavailable("in-process engine ended without output")

    async def stream(self, prompt: Prompt) -> AsyncGenerator[str | Generation, None]:
        """Text deltas, then the whole Generation; closing early aborts the request in the engine."""
        from vllm.sampling_params import RequestOutputKind, SamplingParams

        if self._engine is None:
            raise GenerationUnavailable("in-process engine is not running")
        chat = self._config.prompt_style == "chat"
        text = (
            self._tokenizer.apply_chat_template(prompt.messages, tokenize=False, add_generation_prompt=True)
            if chat
            else prompt.text
        )
        params = SamplingParams(
            max_tokens=self._config.max_tokens,
            temperature=self._config.temperature,
            stop=None if chat else prompt.stop,
            output_kind=RequestOutputKind.DELTA,
        )
        request_id = f"feedpulse-{uuid.uuid4().hex}"
        deadline = time.monotonic() + self._config.timeout_s
        parts: list[str] = []
        prompt_tokens = completion_tokens = 0
        finish_reason = None
        done = False
        try:
            async for output in self._engine.generate({"prompt": text}, params, request_id):
                if time.monotonic() > deadline:
                    raise GenerationTimeout(f"LLM did not finish within {self._config.timeout_s} s")
                prompt_tokens = len(output.prompt_token_ids or []) or prompt_tokens
                completion = output.outputs[0]
                completion_tokens += len(completion.token_ids)
                finish_reason = completion.finish_reason or finish_reason
                if completion.text:
                    parts.append(completion.text)
                    yield completion.text
                done = output.finished
        except (GenerationUnavailable, GeneratorExit, asyncio.CancelledError):
            raise
        except Exception as exc:  # the engine died or refused the request
            raise GenerationUnavailable(f"in-process vLLM engine failed: {exc!r}") from exc
        finally:
            if not done:
                await self._engine.abort(request_id)
        yield Generation(
            "".join(parts).strip(), self._config.model, prompt_tokens, completion_tokens, finish_reason
        )

    async def health(self) -> tuple[bool, str]:
        """Whether the engine runs and has not failed."""
        if self._engine is None:
            return False, "in-process vLLM engine is not running"
        try:
            await self._engine.check_health()
        except Exception as exc:  # vLLM's EngineDeadError and friends
            return False, f"in-process vLLM engine unhealthy: {exc!r}"
        return True, "ok"
