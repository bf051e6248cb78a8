"""Generation backends: the narrow ``Generator`` interface and an OpenAI-compatible vLLM client.

The same client talks to the CPU server started by ``feedpulse llm start`` and to
a GPU ``vllm serve`` anywhere else: only ``base_url`` and ``model`` change.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from rag.config import LLMConfig
from rag.errors import GenerationTimeout, GenerationUnavailable
from rag.prompt import Prompt


@dataclass(slots=True, frozen=True)
class Generation:
    """Text the model wrote, with its token accounting."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


class Generator(Protocol):
    """Writes an answer for a prompt; reports whether it can.

    ``stream`` yields the text as it is written (``str`` deltas) and ends with the
    whole ``Generation``; closing the iterator early cancels the request.
    """

    async def generate(self, prompt: Prompt) -> Generation: ...

    def stream(self, prompt: Prompt) -> AsyncGenerator[str | Generation, None]: ...

    async def health(self) -> tuple[bool, str]: ...


class VLLMGenerator:
    """Calls ``/v1/completions`` (base models) or ``/v1/chat/completions`` (instruct models)."""

    def __init__(self, config: LLMConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> VLLMGenerator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def generate(self, prompt: Prompt) -> Generation:
        """One answer, or GenerationUnavailable (GenerationTimeout) saying why there is none."""
        path, body = self._request(prompt)
        payload = await self._post(path, body)
        return _parse_generation(payload, chat=self._config.prompt_style == "chat")

    async def stream(self, prompt: Prompt) -> AsyncGenerator[str | Generation, None]:
        """Text deltas as the server sends them, then the whole Generation.

        Leaving the loop early (a client went away) closes the HTTP stream, and
        vLLM aborts a request whose connection closed. ``timeout_s`` bounds the
        whole generation, not only the wait for each chunk.
        """
        chat = self._config.prompt_style == "chat"
        path, body = self._request(prompt)
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        deadline = time.monotonic() + self._config.timeout_s
        parts: list[str] = []
        final: dict[str, Any] = {"model": "", "finish_reason": None, "usage": {}}
        try:
            async with self._client.stream("POST", path, json=body) as response:
                if response.status_code != 200:
                    text = (await response.aread()).decode(errors="replace")
                    raise GenerationUnavailable(f"LLM server answered {response.status_code}: {text[:300]}")
                async for line in response.aiter_lines():
                    if time.monotonic() > deadline:
                        raise GenerationTimeout(f"LLM did not finish within {self._config.timeout_s} s")
                    delta = _parse_chunk(line, final, chat=chat)
                    if delta:
                        parts.append(delta)
                        yield delta
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        yield Generation(
            text="".join(parts).strip(),
            model=final["model"],
            prompt_tokens=int(final["usage"].get("prompt_tokens", 0)),
            completion_tokens=int(final["usage"].get("completion_tokens", 0)),
            finish_reason=final["finish_reason"],
        )

    async def health(self) -> tuple[bool, str]:
        """Whether the server answers and serves the configured model."""
        try:
            response = await self._client.get("/models", timeout=self._config.connect_timeout_s)
            response.raise_for_status()
            served = [model["id"] for model in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError) as exc:
            return False, f"LLM server {self._config.base_url} unreachable: {_describe(exc)}"
        if self._config.model not in served:
            return False, f"LLM server serves {served}, not {self._config.model!r}"
        return True, "ok"

    def _request(self, prompt: Prompt) -> tuple[str, dict[str, Any]]:
        if self._config.prompt_style == "chat":
            path, body = "/chat/completions", {"messages": prompt.messages}
        else:
            path, body = "/completions", {"prompt": prompt.text, "stop": prompt.stop}
        return path, body | {
            "model": self._config.model,
            "max_tokens": self._config.max_tokens,
            "temperature": self._config.temperature,
        }

    def _error(self, exc: httpx.HTTPError) -> GenerationUnavailable:
        """A timeout after connecting is a 504; anything else means the server is unusable (503)."""
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return GenerationTimeout(
                f"LLM did not answer within {self._config.timeout_s} s: {_describe(exc)}"
            )
        return GenerationUnavailable(f"LLM server {self._config.base_url} unreachable: {_describe(exc)}")

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        if response.status_code != 200:
            raise GenerationUnavailable(f"LLM server answered {response.status_code}: {response.text[:300]}")
        return response.json()


def _parse_generation(payload: dict[str, Any], *, chat: bool) -> Generation:
    try:
        choice = payload["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
        usage = payload.get("usage") or {}
        return Generation(
            text=(text or "").strip(),
            model=payload.get("model", ""),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise GenerationUnavailable(f"LLM server sent an unexpected reply: {exc!r}") from exc


def _parse_chunk(line: str, final: dict[str, Any], *, chat: bool) -> str:
    """The text delta of one server-sent ``data:`` line; records model, finish reason and usage."""
    if not line.startswith("data:") or (data := line[5:].strip()) == "[DONE]":
        return ""
    try:
        payload = json.loads(data)
        final["model"] = payload.get("model") or final["model"]
        final["usage"] = payload.get("usage") or final["usage"]
        if not payload.get("choices"):
            return ""
        choice = payload["choices"][0]
        final["finish_reason"] = choice.get("finish_reason") or final["finish_reason"]
        return (choice.get("delta") or {}).get("content") or "" if chat else choice.get("text") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise GenerationUnavailable(f"LLM server sent an unexpected stream chunk: {exc!r}") from exc


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
