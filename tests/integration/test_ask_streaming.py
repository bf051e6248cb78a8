"""Streaming answers and the OpenAI-compatible API against the real app, index and vLLM server."""

import pytest
from openai import OpenAI

from tests.integration.conftest import INGEST_WAIT_S, send_post, wait_for
from tests.integration.posts import cluster_and_noise
from tests.serve.sse_helpers import parse_events

pytestmark = pytest.mark.slow
QUESTION = "What happened at the Boston Marathon?"


@pytest.fixture
def loaded(app_client, settings, producer, crisislex_dir):
    """The app with real Boston posts and off-topic noise indexed: (client, cluster ids, posts sent)."""
    cluster, noise = cluster_and_noise(crisislex_dir, noise_size=60)
    for post in noise + cluster:
        send_post(producer, settings.kafka.topic, post)
    sent = len(noise) + len(cluster)
    wait_for(
        lambda: app_client.get("/v1/stats").json()["posts_indexed"] == sent, INGEST_WAIT_S, "posts indexed"
    )
    return app_client, {post["id"] for post in cluster}, sent


def test_streamed_answer_tokens_then_verified_citations_and_freshness(loaded, llm_server):
    client, cluster_ids, sent = loaded
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    events = parse_events(body)
    names = [name for name, _ in events]
    assert names[-1] == "answer" and names.count("token") >= 1, (names, events[-1])
    final = events[-1][1]
    print("streamed:", final["answer"], [(c["id"], c["inferred"]) for c in final["citations"]])
    raw = "".join(data["text"] for name, data in events if name == "token")
    assert final["answer"] and final["answer"].split()[0] in raw
    assert final["citations"] and {c["id"] for c in final["citations"]} <= cluster_ids
    assert sum(final["as_of"]["offsets"].values()) == sent
    assert 0 <= final["index_lag_seconds"] < 3_600
    assert final["window"]["since"] and final["window"]["until"]


def test_openai_client_unchanged_but_base_url(loaded, llm_server):
    client, cluster_ids, _ = loaded
    # feedpulse does not check keys; the client insists on one, so pass a placeholder.
    openai_client = OpenAI(base_url=f"{str(client.base_url).rstrip('/')}/v1", api_key="not-checked")
    assert [m.id for m in openai_client.models.list()] == ["feedpulse"]
    completion = openai_client.chat.completions.create(
        model="feedpulse", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.choices[0].message.content
    extra = completion.model_extra["feedpulse"]
    assert extra["citations"] and {c["id"] for c in extra["citations"]} <= cluster_ids
    stream = openai_client.chat.completions.create(
        model="feedpulse", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    print("openai stream:", text, [c["id"] for c in final.model_extra["feedpulse"]["citations"]])
    assert text.strip() and final.model_extra["feedpulse"]["citations"]
