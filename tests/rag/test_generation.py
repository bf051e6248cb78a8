import asyncio
import json

import httpx
import pytest

from rag.config import LLMConfig
from rag.errors import GenerationTimeout, GenerationUnavailable
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


def sse(*chunks) -> bytes:
    return b"".join(f"data: {json.dumps(c) if isinstance(c, dict) else c}\n\n".encode() for c in chunks)


async def stream_with(handler, style="completion", timeout_s=60.0):
    config = LLMConfig(base_url="http://llm/v1", model="m", prompt_style=style, timeout_s=timeout_s)
    async with VLLMGenerator(config, transport=httpx.MockTransport(handler)) as generator:
        return [piece async for piece in generator.stream(PROMPT)]


def test_completion_stream_yields_deltas_then_the_generation():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"] = json.loads(request.content)
        body = sse(
            {"model": "m", "choices": [{"text": " It", "finish_reason": None}]},
            {"model": "m", "choices": [{"text": " rained.", "finish_reason": "stop"}]},
            {"model": "m", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
            "[DONE]",
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    pieces = run(stream_with(handler))
    assert seen["body"]["stream"] is True and seen["body"]["stream_options"] == {"include_usage": True}
    assert pieces[:-1] == [" It", " rained."]
    final = pieces[-1]
    assert (final.text, final.finish_reason, final.prompt_tokens, final.completion_tokens) == (
        "It rained.",
        "stop",
        7,
        2,
    )


def test_chat_stream_reads_delta_content():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        body = sse(
            {"choices": [{"delta": {"role": "assistant"}}]},
            {"choices": [{"delta": {"content": "Hi"}, "finish_reason": "stop"}]},
            "[DONE]",
        )
        return httpx.Response(200, content=body)

    assert [p if isinstance(p, str) else p.text for p in run(stream_with(handler, "chat"))] == ["Hi", "Hi"]


@pytest.mark.parametrize(
    ("error", "expected", "not_expected"),
    [
        (httpx.ReadTimeout("slow"), GenerationTimeout, None),
        (httpx.ConnectTimeout("no route"), GenerationUnavailable, GenerationTimeout),
        (httpx.ConnectError("refused"), GenerationUnavailable, GenerationTimeout),
    ],
)
def test_a_timeout_after_connecting_is_a_timeout_and_the_rest_unavailable(error, expected, not_expected):
    def handler(request):
        raise error

    for call in (generate_with, stream_with):
        with pytest.raises(expected) as caught:
            run(call(handler))
        assert not_expected is None or not isinstance(caught.value, not_expected)


def test_stream_error_status_is_unavailable():
    with pytest.raises(GenerationUnavailable, match="answered 503"):
        run(stream_with(lambda r: httpx.Response(503, text="loading")))


def test_stream_past_its_deadline_is_a_timeout():
    def handler(request):
        return httpx.Response(200, content=sse({"choices": [{"text": "a"}]}, {"choices": [{"text": "b"}]}))

    with pytest.raises(GenerationTimeout, match="did not finish"):
        run(stream_with(handler, timeout_s=1e-9))
