"""1% poison records mixed into a replay of real posts: every one in the DLQ, every good post indexed."""

import json

import pytest

from ingest.replay import load_posts
from tests.integration.conftest import wait_for
from tests.integration.test_dead_letters import read_dlq

pytestmark = pytest.mark.slow

GOOD = 2_000
POISON_EVERY = 100
POISONS = [
    (b"bad-json", b'{"id": "bad-json", "text": '),
    (b"no-id", json.dumps({"text": "hello", "author": "a", "created_at": "2013-04-15T19:00:00Z"}).encode()),
    (
        b"empty",
        json.dumps(
            {"id": "empty", "text": " ", "author": "a", "created_at": "2013-04-15T19:00:00Z"}
        ).encode(),
    ),
    (
        b"bad-time",
        json.dumps({"id": "bad-time", "text": "x y", "author": "a", "created_at": "yesterday"}).encode(),
    ),
    (b"not-utf8", b"\xff\xfe\xfa not utf-8"),
    (b"array", b'["not", "an", "object"]'),
]


def test_one_percent_poison_is_all_dead_lettered_and_every_good_post_indexed(
    app_client, settings, producer, crisislex_dir
):
    posts = load_posts([crisislex_dir], limit=GOOD, rebase_now=True)
    poisoned = {}
    for n, post in enumerate(posts):
        producer.send(settings.kafka.topic, key=post.id.encode(), value=post.to_json_bytes())
        if n % POISON_EVERY == POISON_EVERY // 2:
            key, value = POISONS[(n // POISON_EVERY) % len(POISONS)]
            meta = producer.send(settings.kafka.topic, key=key + str(n).encode(), value=value).get(30)
            poisoned[(meta.partition, meta.offset)] = key
    producer.flush(30)
    distinct = len({post.id for post in posts})

    wait_for(
        lambda: app_client.get("/v1/stats").json()["posts_indexed"] == distinct,
        180,
        "every good post indexed",
    )
    letters = read_dlq(settings, len(poisoned))
    sources = {}
    for letter in letters:
        headers = {key: value.decode() for key, value in letter.headers}
        assert headers["source.topic"] == settings.kafka.topic and headers["error"].strip()
        sources[(int(headers["source.partition"]), int(headers["source.offset"]))] = headers["error"]
    print(f"\n{distinct} good posts indexed; {len(sources)} of {len(poisoned)} poison records dead-lettered")
    assert set(sources) == set(poisoned)
    assert app_client.get("/v1/stats").json()["ingest"]["dead_letters"] == len(poisoned)
