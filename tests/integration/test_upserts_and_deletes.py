"""Same id twice → one vector; a tombstone removes the post from search and citations."""

import pytest

from tests.integration.conftest import INGEST_WAIT_S, send_post, wait_for
from tests.integration.posts import cluster_and_noise

pytestmark = pytest.mark.slow


def test_same_id_twice_keeps_one_vector_with_the_latest_text(app_client, settings, producer, crisislex_dir):
    cluster, _ = cluster_and_noise(crisislex_dir, cluster_size=3, noise_size=0)
    first = cluster[0]
    send_post(producer, settings.kafka.topic, first)
    # Wait, so the second version arrives in a later batch and must replace, not add.
    wait_for(
        lambda: app_client.get(f"/v1/posts/{first['id']}").status_code == 200, INGEST_WAIT_S, "first version"
    )
    send_post(producer, settings.kafka.topic, first | {"text": "Edited: " + first["text"]})
    for post in cluster[1:]:
        send_post(producer, settings.kafka.topic, post)
    wait_for(
        lambda: app_client.get("/v1/stats").json()["posts_indexed"] == 3, INGEST_WAIT_S, "3 distinct posts"
    )
    wait_for(
        lambda: app_client.get(f"/v1/posts/{first['id']}").json()["text"].startswith("Edited"),
        INGEST_WAIT_S,
        "the second version",
    )
    hits = app_client.get("/v1/search", params={"q": first["text"], "k": 10}).json()["hits"]
    assert [hit["id"] for hit in hits].count(first["id"]) == 1
    stats = app_client.get("/v1/stats").json()
    assert stats["vectors"] == 3
    assert stats["ingest"]["posts_indexed"] == 4  # 4 writes, 3 posts


def test_tombstone_removes_post_from_search_and_citations(
    app_client, settings, producer, llm_server, crisislex_dir
):
    cluster, noise = cluster_and_noise(crisislex_dir, cluster_size=8, noise_size=20)
    for post in cluster + noise:
        send_post(producer, settings.kafka.topic, post)
    wait_for(lambda: app_client.get("/v1/stats").json()["posts_indexed"] == 28, INGEST_WAIT_S, "28 posts")
    victim = app_client.get("/v1/search", params={"q": "Boston Marathon explosion", "k": 1}).json()["hits"][0]
    send_post(producer, settings.kafka.topic, None, key=victim["id"])
    wait_for(
        lambda: app_client.get(f"/v1/posts/{victim['id']}").status_code == 404, INGEST_WAIT_S, "the delete"
    )

    hits = app_client.get("/v1/search", params={"q": victim["text"], "k": 50}).json()["hits"]
    assert victim["id"] not in {hit["id"] for hit in hits}
    answer = app_client.post("/v1/ask", json={"question": victim["text"]}).json()
    assert answer["generated"]
    assert victim["id"] not in {c["id"] for c in answer["citations"]}
    stats = app_client.get("/v1/stats").json()
    assert (stats["posts_indexed"], stats["vectors"]) == (27, 27)
