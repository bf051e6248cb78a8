"""Bad JSON, a missing id and empty text land in the DLQ with a reason; good posts still index."""

import pytest
from kafka import KafkaConsumer

from tests.integration.conftest import INGEST_WAIT_S, send_post, wait_for
from tests.integration.posts import cluster_and_noise

pytestmark = pytest.mark.slow


def read_dlq(settings, expected: int) -> list:
    consumer = KafkaConsumer(
        settings.kafka.dlq_topic,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,
        group_id=None,
    )
    records = []
    for record in consumer:
        records.append(record)
        if len(records) == expected:
            break
    consumer.close()
    return records


def test_poison_messages_go_to_dlq_and_ingest_carries_on(app_client, settings, producer, crisislex_dir):
    good, _ = cluster_and_noise(crisislex_dir, cluster_size=5, noise_size=0)
    topic = settings.kafka.topic
    send_post(producer, topic, None, key="bad-json", raw=b'{"id": "bad-json", "text": ')
    send_post(producer, topic, {k: v for k, v in good[0].items() if k != "id"}, key="")
    send_post(producer, topic, good[1] | {"id": "empty-text", "text": "   "})
    for post in good:
        send_post(producer, topic, post)

    wait_for(
        lambda: app_client.get("/v1/stats").json()["posts_indexed"] == 5, INGEST_WAIT_S, "the 5 good posts"
    )
    letters = read_dlq(settings, 3)
    assert len(letters) == 3
    reasons = {}
    for letter in letters:
        headers = {key: value.decode() for key, value in letter.headers}
        assert headers["source.topic"] == topic
        assert int(headers["source.partition"]) >= 0 and int(headers["source.offset"]) >= 0
        reasons[(letter.key or b"").decode()] = headers["error"]
    assert "not valid JSON" in reasons["bad-json"]
    assert "id" in reasons[""]
    assert "text" in reasons["empty-text"]
    assert app_client.get("/v1/stats").json()["ingest"]["dead_letters"] == 3
    assert app_client.get("/v1/posts/empty-text").status_code == 404
