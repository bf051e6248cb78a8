import asyncio
import json

import httpx
import pytest

from rag.config import LLMConfig
from rag.errors import GenerationUnavailable
from rag.generation import VLLMGenerator
from rag.prompt import Prompt

PROMPT = Prompt(text="Q?\nAnswer:", messages=[{"role": "user", "content": "Q?"}], stop=["\n"])


def run(coro):
    return asyncio.run(coro)


async def generate_with(handler, style="completion"):
    config = LLMConfig(base_url="http://llm/v1", model="m", prompt_style=style)
    async with VLLMGenerator(config, transport=httpx.MockTransport(handler)) as generator:
        return await generator.generate(PROMPT)


def test_completion_request_and_parsing():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"], seen["body"] = request.url.path, json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "model": "m",
                "choices": [{"text": " It rained. ", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3},
            },
        )

    generation = run(generate_with(handler))
    assert seen["path"] == "/v1/completions"
    assert seen["body"]["prompt"] == PROMPT.text and seen["body"]["stop"] == ["\n"]
    assert (generation.text, generation.prompt_tokens, generation.completion_tokens) == ("It rained.", 7, 3)


def test_chat_style_uses_messages():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        assert "stop" not in json.loads(request.content)
        return httpx.Response(200, json={"choices": [{"message": {"content": "Hi"}}]})

    assert run(generate_with(handler, "chat")).text == "Hi"


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (lambda r: httpx.Response(500, text="boom"), "answered 500"),
        (lambda r: httpx.Response(200, json={"nope": 1}), "unexpected reply"),
        (lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")), "unreachable"),
    ],
)
def test_failures_become_generation_unavailable(handler, reason):
    with pytest.raises(GenerationUnavailable, match=reason):
        run(generate_with(handler))


def test_unreachable_server_fails_fast_not_hangs():
    async def check():
        config = LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", connect_timeout_s=1)
        async with VLLMGenerator(config) as generator:
            ok, reason = await generator.health()
            assert not ok and "unreachable" in reason
            with pytest.raises(GenerationUnavailable):
                await generator.generate(PROMPT)

    run(check())
