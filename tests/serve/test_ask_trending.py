"""POST /v1/ask answers "what's trending (about X)?" from the trends, citing their live posts."""

import json

import pytest

from rag.trending import trending_topic
from tests.serve.test_trends_routes import BURST, CHATTER, make_client


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What's trending?", None),
        ("what is trending right now", None),
        ("What's trending about the Boston Marathon?", "the Boston Marathon"),
        ("Which stories are hot in Texas?", "Texas"),
        ("What are trending now?", None),
    ],
)
def test_trending_questions_are_recognised_with_their_topic(question, topic):
    assert trending_topic(question) == (True, topic)


@pytest.mark.parametrize("question", ["What happened at the marathon?", "Is the flood trending downwards?"])
def test_other_questions_go_to_the_answer_engine(question):
    assert trending_topic(question) == (False, None)


def test_ask_whats_trending_answers_from_the_trends_with_citations():
    with make_client(CHATTER + BURST) as client:
        body = client.post("/v1/ask", json={"question": "What's trending?"}).json()
        assert body["answer"].startswith("Trending now:") and "[1]" in body["answer"]
        assert not body["generated"] and body["model"] is None  # the LLM was not needed
        assert [c["id"] for c in body["citations"]] and body["citations"][0]["id"] in {p[0] for p in BURST}
        assert body["as_of"]["newest_post_at"].startswith("2013-04-15T19:02:30")


def test_ask_whats_trending_about_a_topic_and_streamed():
    with make_client(CHATTER + BURST) as client:
        body = client.post("/v1/ask", json={"question": "What's trending about the marathon?"}).json()
        assert body["answer"].startswith("Trending about the marathon now:") and body["citations"]
        with client.stream(
            "POST", "/v1/ask", json={"question": "what's trending?", "stream": True}
        ) as response:
            lines = [line for line in response.iter_lines() if line.startswith("data:")]
        assert json.loads(lines[-1][5:])["citations"]


def test_an_empty_window_says_nothing_is_trending_and_cites_nothing():
    with make_client([]) as client:
        body = client.post("/v1/ask", json={"question": "What's trending?"}).json()
        assert body["answer"] == "Nothing is trending in the last 1 h of indexed posts."
        assert body["citations"] == []


def test_a_deleted_representative_is_never_cited():
    with make_client(CHATTER + BURST) as client:
        store = client.app.state.components.store
        for post_id, _, _ in BURST:
            store.apply([], store_vectors_none(store), deletes=[post_id])
        body = client.post("/v1/ask", json={"question": "What's trending?"}).json()
        assert all(c["id"] not in {p[0] for p in BURST} for c in body["citations"])


def store_vectors_none(store):
    import numpy as np

    return np.empty((0, store.dim), np.float32)
