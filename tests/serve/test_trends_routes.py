"""GET /v1/trends and /v1/trends/{id} over a real tracker fed with small stand-in vectors."""

import pytest
from fastapi.testclient import TestClient

from index.records import PostRecord
from index.store import PostStore
from index.stories import StoryTracker, story_id
from index.trend_config import TrendsConfig
from index.trends import TrendTracker
from serve.settings import Settings
from serve.trends_schemas import parse_window
from tests.rag.helpers import BagOfWordsEmbedder, ScriptedGenerator
from tests.serve.helpers import app_client

T0 = 1_366_052_400.0


def make_client(posts: list[tuple[str, str, float]], trends_on: bool = True) -> TestClient:
    settings = Settings(trends=TrendsConfig(min_volume=3, min_score=2))
    embedder = BagOfWordsEmbedder()
    store = PostStore(embedder.dim)
    tracker = StoryTracker(embedder.dim, settings.trends)
    if posts:
        records = [PostRecord(i, text, "a", at) for i, text, at in posts]
        vectors = embedder.embed([text for _, text, _ in posts])
        tracker.observe(records, vectors)
        store.apply(records, vectors)
    trends = (lambda: TrendTracker(tracker, store.get, embedder)) if trends_on else (lambda: None)
    return app_client(settings, embedder, store, ScriptedGenerator("unused"), trends)


BURST = [
    (f"b{i}", f"Explosions at the Boston Marathon finish line, report {i}", T0 + 30 * i) for i in range(6)
]
CHATTER = [(f"c{i}", f"lunch {i}", T0 - 7200 + 600 * i) for i in range(6)]


def test_trends_lists_the_burst_with_its_posts_and_story_resolves():
    with make_client(CHATTER + BURST) as client:
        body = client.get("/v1/trends", params={"window": "30m", "limit": 5}).json()
        assert [t["id"] for t in body["trends"]] == [story_id("b0")]
        trend = body["trends"][0]
        assert trend["volume"] == 6 and trend["posts"] == 6 and trend["trending"]
        assert "explosions" in trend["keywords"] and trend["label"]
        assert sum(point["posts"] for point in trend["series"]) == 6 and len(trend["series"]) == 6
        assert trend["representative"]["text"].startswith("Explosions at the Boston")
        assert {p["id"] for p in trend["top_posts"]} <= {p[0] for p in BURST}
        assert body["until"].startswith("2013-04-15T19:02:30")
        assert client.get("/v1/trends", params={"q": "marathon"}).json()["trends"][0]["id"] == trend["id"]

        one = client.get(f"/v1/trends/{trend['id']}").json()
        assert one["requested_id"] == trend["id"] and one["story"]["posts"] == 6


def test_empty_and_quiet_windows_are_empty_lists_not_errors():
    with make_client([]) as client:
        body = client.get("/v1/trends").json()
        assert body["trends"] == [] and body["since"] is None
    with make_client(CHATTER) as client:
        response = client.get("/v1/trends", params={"window": "10m"})
        assert response.status_code == 200 and response.json()["trends"] == []


def test_bad_window_unknown_story_and_disabled_trends_answer_with_the_error_shape():
    with make_client(BURST) as client:
        bad = client.get("/v1/trends", params={"window": "soon"})
        assert bad.status_code == 422 and bad.json()["error"]["type"] == "http_error"
        missing = client.get("/v1/trends/snope")
        assert missing.status_code == 404 and "snope" in missing.json()["error"]["message"]
    with make_client(BURST, trends_on=False) as client:
        assert client.get("/v1/trends").status_code == 404


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("1.5d", 129_600)])
def test_windows_parse(text, seconds):
    assert parse_window(text) == seconds


@pytest.mark.parametrize("text", ["0h", "8d", "1w", "h", ""])
def test_bad_windows_are_refused(text):
    with pytest.raises(ValueError):
        parse_window(text)
