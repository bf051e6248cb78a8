"""Kafka → embeddings → FAISS → vLLM answer over HTTP, every part real."""

import time

import pytest

from tests.integration.conftest import INGEST_WAIT_S, send_post, wait_for
from tests.integration.posts import cluster_and_noise

pytestmark = pytest.mark.slow


def indexed(client, post_id: str) -> bool:
    return client.get(f"/v1/posts/{post_id}").status_code == 200


def test_posts_are_searchable_within_seconds_and_answers_cite_them(
    app_client, settings, producer, llm_server, crisislex_dir
):
    cluster, noise = cluster_and_noise(crisislex_dir)
    cluster_ids = {post["id"] for post in cluster}
    for post in noise + cluster:
        send_post(producer, settings.kafka.topic, post)
    sent_at = time.monotonic()

    wait_for(
        lambda: all(indexed(app_client, p["id"]) for p in noise + cluster),
        INGEST_WAIT_S,
        "all posts searchable",
    )
    elapsed = time.monotonic() - sent_at
    print(f"all {len(noise) + len(cluster)} posts searchable {elapsed:.2f} s after the last ack")

    hits = app_client.get("/v1/search", params={"q": "explosions at the Boston Marathon", "k": 8}).json()[
        "hits"
    ]
    assert {hit["id"] for hit in hits} <= cluster_ids

    response = app_client.post("/v1/ask", json={"question": "What happened at the Boston Marathon?"})
    assert response.status_code == 200, response.text
    body = response.json()
    print("answer:", body["answer"], [(c["id"], c["inferred"]) for c in body["citations"]])
    assert body["generated"] and body["model"] == settings.llm.model
    assert body["answer"].strip()
    assert body["citations"], "the answer cites no post"
    assert {c["id"] for c in body["citations"]} <= cluster_ids
    assert body["timings"]["generate_ms"] > 0


def test_stats_report_offsets_and_lag(app_client, settings, producer, crisislex_dir):
    _, noise = cluster_and_noise(crisislex_dir, cluster_size=0, noise_size=30)
    for post in noise:
        send_post(producer, settings.kafka.topic, post)
    wait_for(
        lambda: app_client.get("/v1/stats").json()["posts_indexed"] == 30, INGEST_WAIT_S, "30 posts indexed"
    )
    wait_for(
        lambda: (
            sum(app_client.get("/v1/stats").json()["consumer_lag"].values()) == 0
            and len(app_client.get("/v1/stats").json()["consumer_lag"]) == settings.kafka.partitions
        ),
        10,
        "lag reported as zero on every partition",
    )
    stats = app_client.get("/v1/stats").json()
    assert sum(stats["applied_offsets"].values()) == 30
    assert stats["ingest"]["connected"] and stats["ingest"]["dead_letters"] == 0
