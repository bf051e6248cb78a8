"""Trends carry the background task's one-line summaries (summary, summary_at); off, they are null."""

import time

from fastapi.testclient import TestClient

from index.records import PostRecord
from index.store import PostStore
from index.stories import StoryTracker, story_id
from index.trend_config import TrendsConfig
from index.trends import TrendTracker
from rag.config import SummaryConfig
from serve.settings import Settings
from tests.rag.helpers import BagOfWordsEmbedder, ScriptedGenerator
from tests.serve.helpers import app_client
from tests.serve.test_trends_routes import BURST, CHATTER

SUMMARY = "Explosions hit the Boston Marathon finish line."


def make_client(generator: ScriptedGenerator, summaries: SummaryConfig) -> TestClient:
    """The app as build_components wires it: answers through the gate, summaries beside them."""
    settings = Settings(trends=TrendsConfig(min_volume=3, min_score=2), summaries=summaries)
    embedder = BagOfWordsEmbedder()
    store = PostStore(embedder.dim)
    stories = StoryTracker(embedder.dim, settings.trends)
    posts = CHATTER + BURST
    records = [PostRecord(i, text, "a", at) for i, text, at in posts]
    vectors = embedder.embed([text for _, text, _ in posts])
    stories.observe(records, vectors)
    store.apply(records, vectors)
    trends = TrendTracker(stories, store.get, embedder)
    return app_client(settings, embedder, store, generator, lambda: trends, summaries=True)


def first_trend(client: TestClient) -> dict:
    return client.get("/v1/trends", params={"window": "30m"}).json()["trends"][0]


def test_the_background_task_summarises_the_top_trend_and_both_routes_return_it():
    generator = ScriptedGenerator(SUMMARY)
    with make_client(generator, SummaryConfig(interval_s=0.05, idle_s=0)) as client:
        deadline = time.monotonic() + 10
        while first_trend(client)["summary"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        trend = first_trend(client)
        assert trend["id"] == story_id("b0")
        assert trend["summary"] == SUMMARY and trend["summary_at"].endswith("Z")
        story = client.get(f"/v1/trends/{trend['id']}").json()["story"]
        assert story["summary"] == SUMMARY and story["summary_at"] == trend["summary_at"]
        time.sleep(0.3)  # several more rounds: the story did not change, so it is not rewritten
    prompts = [p for p in generator.prompts if "Summary:" in p.text]
    assert len(prompts) == 1 and "Explosions at the Boston Marathon finish line" in prompts[0].text


def test_summaries_switched_off_leave_the_fields_null_and_never_call_the_llm():
    generator = ScriptedGenerator(SUMMARY)
    with make_client(generator, SummaryConfig(enabled=False, interval_s=0.05)) as client:
        time.sleep(0.2)
        trend = first_trend(client)
        assert trend["summary"] is None and trend["summary_at"] is None
        assert client.get(f"/v1/trends/{trend['id']}").json()["story"]["summary"] is None
    assert generator.prompts == []
