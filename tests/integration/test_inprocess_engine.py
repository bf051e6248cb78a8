"""The in-process vLLM backend (AsyncLLM) on the prepared model: generate, stream, abort on close."""

import asyncio
import time

import pytest

from rag.prompt import build_prompt
from serve.llm_backend import open_generator
from tests.integration.posts import cluster_and_noise
from tests.rag.helpers import hit

pytestmark = pytest.mark.slow


def test_in_process_engine_answers_streams_and_aborts(base_settings, crisislex_dir):
    settings = base_settings.model_copy(
        update={
            "llm": base_settings.llm.model_copy(update={"backend": "in_process", "base_url": "http://unused"})
        }
    )
    cluster, _ = cluster_and_noise(crisislex_dir, cluster_size=5, noise_size=0)
    prompt = build_prompt("What happened at the Boston Marathon?", [hit(p["id"], p["text"]) for p in cluster])

    async def check():
        started = time.monotonic()
        async with open_generator(settings) as generator:
            print(f"in-process engine ready in {time.monotonic() - started:.0f} s")
            assert await generator.health() == (True, "ok")
            whole = await generator.generate(prompt)
            print("in-process answer:", whole.text, whole.finish_reason, whole.completion_tokens)
            assert whole.text and whole.completion_tokens > 0 and whole.prompt_tokens > 100
            pieces = [piece async for piece in generator.stream(prompt)]
            assert "".join(pieces[:-1]).strip() == pieces[-1].text == whole.text  # greedy: same text
            stream = generator.stream(prompt)
            await anext(stream)
            await stream.aclose()  # a client went away
            assert generator._engine.get_num_unfinished_requests() == 0

    asyncio.run(check())
