"""A client that disconnects mid-stream stops generation in the real vLLM server, not only in the app.

Both streaming routes: ``/v1/ask`` read with httpx, ``/v1/chat/completions`` with the OpenAI client.

The proof is vLLM's own Prometheus ``/metrics``: after the disconnect no request
is running or waiting, and the request did not finish on its own (no
``stop``/``length``/... count grew: vLLM 0.32 counts none for an aborted
request), having generated a small part of its ``max_tokens``.
"""

import time

import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from serve.daemons.vllm import VLLMServer
from tests.integration.conftest import INGEST_WAIT_S, running_api, send_post, wait_for
from tests.integration.posts import cluster_and_noise

pytestmark = pytest.mark.slow

# Answers are one line (generation stops at a newline), usually one sentence; counting
# keeps the base model on one line until max_tokens (measured: it is still counting
# when 60 tokens run out), so the request would run for all MAX_TOKENS if let run.
QUESTION = "Count from 1 to 500, separated by commas: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
MAX_TOKENS = 400
NATURAL_ENDS = ("stop", "length", "error", "repetition")
# The gauges come with the engine's step outputs: after reading "idle", wait and read
# again, so that a stale reading cannot pass for a stopped request.
SETTLE_S = 3.0


def vllm_metrics(server: VLLMServer) -> dict[str, float]:
    """Request gauges, the generated-token counter and finished requests by reason, summed over engines."""
    text = httpx.get(f"http://{server.host}:{server.port}/metrics", timeout=5).text
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vllm:request_success_total":
                key = f"finished_{sample.labels['finished_reason']}"
            elif sample.name in (
                "vllm:num_requests_running",
                "vllm:num_requests_waiting",
                "vllm:generation_tokens_total",
            ):
                key = sample.name.removeprefix("vllm:")
            else:
                continue
            figures[key] = figures.get(key, 0.0) + sample.value
    return figures


def idle(server: VLLMServer) -> bool:
    figures = vllm_metrics(server)
    return figures["num_requests_running"] == 0 and figures["num_requests_waiting"] == 0


def first_token_then_disconnect(client: httpx.Client, route: str) -> str:
    """Ask for a streamed answer, read up to its first token, then close the connection."""
    if route == "chat":  # the OpenAI client, as a user of the compatible API would stream
        openai_client = OpenAI(base_url=f"{str(client.base_url).rstrip('/')}/v1", api_key="not-checked")
        messages = [{"role": "user", "content": QUESTION}]
        with openai_client.chat.completions.create(
            model="feedpulse", messages=messages, stream=True
        ) as stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    return chunk.choices[0].delta.content
        pytest.fail("the stream ended before its first token")
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.status_code == 200
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                assert name == "token", f"expected a token before disconnecting, got {name}: {line}"
                return line[6:]
    pytest.fail("the stream ended before its first token")


@pytest.mark.parametrize("route", ["ask", "chat"])
def test_client_disconnect_aborts_generation_in_vllm(route, settings, producer, llm_server, crisislex_dir):
    long_answers = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"max_tokens": MAX_TOKENS})}
    )
    cluster, _ = cluster_and_noise(crisislex_dir, cluster_size=8, noise_size=0)
    with running_api(long_answers) as client:
        for post in cluster:
            send_post(producer, settings.kafka.topic, post)
        wait_for(
            lambda: client.get("/v1/stats").json()["posts_indexed"] == len(cluster),
            INGEST_WAIT_S,
            "posts indexed",
        )
        assert idle(llm_server)
        before = vllm_metrics(llm_server)
        asked = time.monotonic()
        first = first_token_then_disconnect(client, route)  # returning left the stream's block: closed
        disconnected = time.monotonic()
        stopped_s = wait_for(lambda: idle(llm_server), 30, "vLLM to stop the abandoned request", 0.05)
        stopped = vllm_metrics(llm_server)
        time.sleep(SETTLE_S)
        after = vllm_metrics(llm_server)

    generated = after["generation_tokens_total"] - before["generation_tokens_total"]
    ended = {reason: after[f"finished_{reason}"] - before[f"finished_{reason}"] for reason in NATURAL_ENDS}
    aborted = after["finished_abort"] - before["finished_abort"]
    print(
        f"{route}: first token {first!r} after {disconnected - asked:.1f} s; vLLM idle {stopped_s:.2f} s "
        f"after the disconnect; {generated:.0f} of max {MAX_TOKENS} tokens generated; finished on its own: "
        f"{ended}, counted as aborted: {aborted:.0f}"
    )
    assert not any(ended.values()), f"the request ended on its own, it was not aborted: {ended}"
    assert after["num_requests_running"] == after["num_requests_waiting"] == 0
    assert after["generation_tokens_total"] == stopped["generation_tokens_total"], "still generating"
    assert 1 <= generated < MAX_TOKENS // 4
