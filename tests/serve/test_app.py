"""Routes and error shapes, with the real store and engine over small stand-ins for the models."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from index.records import PostRecord
from index.store import PostStore
from rag.config import RetrievalConfig
from rag.engine import NO_POSTS_ANSWER
from rag.errors import GenerationUnavailable
from serve.components import Components
from serve.settings import Settings
from tests.rag.helpers import BagOfWordsEmbedder, ScriptedGenerator
from tests.serve.helpers import app_client

T0 = datetime(2013, 4, 15, 19, tzinfo=UTC).timestamp()
POSTS = [
    ("1", "Two explosions at the Boston Marathon finish line", T0),
    ("2", "Runners injured near the marathon finish line after explosions", T0 + 60),
    ("3", "Best burrito in town, highly recommend", T0 + 120),
]


class DownGenerator(ScriptedGenerator):
    async def generate(self, prompt):
        raise GenerationUnavailable("LLM server http://x unreachable: ConnectError")

    async def health(self):
        return False, "LLM server http://x unreachable"


def make_client(generator, broker=(True, "ok")) -> TestClient:
    settings = Settings(retrieval=RetrievalConfig(k=2))
    embedder = BagOfWordsEmbedder()
    store = PostStore(embedder.dim)
    records = [
        PostRecord(post_id=i, text=t, author="a", created_at=c, indexed_at=c + 1, partition=0, offset=n)
        for n, (i, t, c) in enumerate(POSTS)
    ]
    store.apply(records, embedder.embed([t for _, t, _ in POSTS]), offsets={0: 3})

    class Parts(Components):
        async def broker_status(self):
            return broker

    return app_client(settings, embedder, store, generator, components_class=Parts)


def test_ask_returns_answer_citations_and_timings():
    generator = ScriptedGenerator("Explosions hit the Boston Marathon finish line [1].")
    with make_client(generator) as client:
        body = client.post("/v1/ask", json={"question": "What happened at the marathon?"}).json()
    assert body["answer"].startswith("Explosions") and body["generated"]
    assert [c["id"] for c in body["citations"]] == ["1"]
    assert body["citations"][0]["inferred"] is False
    assert set(body["timings"]) == {"retrieve_ms", "generate_ms", "attribute_ms", "total_ms"}
    assert "[1] @a" in generator.prompts[0].text


def test_ask_reports_what_the_output_guard_removed():
    generator = ScriptedGenerator(
        "Explosions hit the Boston Marathon finish line [1]. Details at http://boston-relief.example/give"
    )
    with make_client(generator) as client:
        body = client.post("/v1/ask", json={"question": "What happened at the marathon?"}).json()
    assert "boston-relief.example" not in body["answer"]
    assert [r["reason"] for r in body["removals"]] in (["ungrounded_token"], ["link_removed"])
    assert "boston-relief.example" in body["removals"][0]["sentence"] + body["removals"][0]["detail"]


def test_ask_without_matching_posts_does_not_call_the_llm():
    generator = ScriptedGenerator("unused")
    with make_client(generator) as client:
        body = client.post("/v1/ask", json={"question": "anything", "since": "2020-01-01T00:00:00Z"}).json()
    assert body == body | {"answer": NO_POSTS_ANSWER, "generated": False, "citations": []}
    assert generator.prompts == []


def test_llm_down_is_503_with_reason():
    with make_client(DownGenerator("")) as client:
        response = client.post("/v1/ask", json={"question": "marathon?"})
        ready = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "llm_unavailable"
    assert ready.status_code == 503
    assert ready.json()["checks"]["llm"]["ok"] is False
    assert "unreachable" in ready.json()["checks"]["llm"]["detail"]


def test_readyz_reports_broker_down():
    with make_client(ScriptedGenerator("x"), broker=(False, "broker down")) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"] == {"ok": False, "detail": "broker down"}


def test_readyz_ok_when_all_up():
    with make_client(ScriptedGenerator("x")) as client:
        assert client.get("/readyz").json() == {
            "ready": True,
            "checks": {name: {"ok": True, "detail": "ok"} for name in ("broker", "index", "llm")},
        }
        assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "  "},
        {"question": "q", "k": 0},
        {"question": "q", "since": "2013-04-16T00:00:00Z", "until": "2013-04-15T00:00:00Z"},
        {"question": "q", "since": "2013-04-16T00:00:00"},
    ],
)
def test_bad_ask_requests_are_422_in_one_shape(body):
    with make_client(ScriptedGenerator("x")) as client:
        response = client.post("/v1/ask", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_request"


def test_search_window_and_validation():
    with make_client(ScriptedGenerator("x")) as client:
        hits = client.get("/v1/search", params={"q": "marathon explosions", "k": 5}).json()["hits"]
        windowed = client.get("/v1/search", params={"q": "marathon", "since": "2013-04-15T19:00:30Z"}).json()
        naive = client.get("/v1/search", params={"q": "x", "since": "2013-04-15T19:00:30"})
    assert {h["id"] for h in hits[:2]} == {"1", "2"}
    assert "1" not in {h["id"] for h in windowed["hits"]}
    assert naive.status_code == 422 and "time zone" in naive.json()["error"]["message"]


def test_posts_and_stats():
    with make_client(ScriptedGenerator("x")) as client:
        post = client.get("/v1/posts/2").json()
        missing = client.get("/v1/posts/404")
        stats = client.get("/v1/stats").json()
    assert post["text"].startswith("Runners") and post["offset"] == 1 and post["indexed_at"]
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "http_error"
    assert stats["posts_indexed"] == 3 and stats["applied_offsets"] == {"0": 3}
    assert stats["vectors"] == 3 and stats["segments"] == 1 and stats["deletes_remembered"] == 0


def test_web_page_is_served():
    with make_client(ScriptedGenerator("x")) as client:
        response = client.get("/")
    assert response.status_code == 200 and "feedpulse" in response.text.lower()


def test_metrics_are_served_in_prometheus_text_format():
    with make_client(ScriptedGenerator("x")) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
