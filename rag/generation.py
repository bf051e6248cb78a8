"""Generation backends: the narrow ``Generator`` interface and an OpenAI-compatible vLLM client.

The same client talks to the CPU server started by ``feedpulse llm start`` and to
a GPU ``vllm serve`` anywhere else: only ``base_url`` and ``model`` change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from rag.config import LLMConfig
from rag.errors import GenerationUnavailable
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
    """Writes an answer for a prompt; reports whether it can."""

    async def generate(self, prompt: Prompt) -> Generation: ...

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
        """One answer, or GenerationUnavailable saying why there is none."""
        if self._config.prompt_style == "chat":
            path, body = "/chat/completions", {"messages": prompt.messages}
        else:
            path, body = "/completions", {"prompt": prompt.text, "stop": prompt.stop}
        body |= {
            "model": self._config.model,
            "max_tokens": self._config.max_tokens,
            "temperature": self._config.temperature,
        }
        payload = await self._post(path, body)
        return _parse_generation(payload, chat=self._config.prompt_style == "chat")

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

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise GenerationUnavailable(
                f"LLM server {self._config.base_url} unreachable: {_describe(exc)}"
            ) from exc
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


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
