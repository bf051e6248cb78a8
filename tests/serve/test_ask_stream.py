"""POST /v1/ask with stream=true: events, errors, client disconnects (real store, small model stand-ins)."""

import asyncio
import json

from rag.errors import GenerationTimeout, GenerationUnavailable
from serve.app import create_app
from serve.settings import Settings
from tests.rag.helpers import ScriptedGenerator
from tests.serve.sse_helpers import parse_events
from tests.serve.test_app import DownGenerator, make_client

ANSWER = "Explosions hit the Boston Marathon finish line [1]."


class StreamDownGenerator(DownGenerator):
    async def stream(self, prompt):
        raise GenerationUnavailable("LLM server http://x unreachable: ConnectError")
        yield  # an async generator that fails on its first step


class SlowGenerator(ScriptedGenerator):
    """Connects, then times out: before the first token or after it."""

    def __init__(self, tokens_before_timeout: int) -> None:
        super().__init__("x")
        self.tokens = tokens_before_timeout

    async def generate(self, prompt):
        raise GenerationTimeout("LLM did not answer within 60 s: ReadTimeout")

    async def stream(self, prompt):
        for _ in range(self.tokens):
            yield "Explosions "
        raise GenerationTimeout("LLM did not finish within 60 s")


def test_stream_sends_tokens_then_the_answer_with_citations_and_freshness():
    with make_client(ScriptedGenerator(ANSWER)) as client:
        response = client.post("/v1/ask", json={"question": "What happened at the marathon?", "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text)
    names = [name for name, _ in events]
    assert names == ["token"] * len(ANSWER.split(" ")) + ["answer"]
    assert "".join(data["text"] for name, data in events if name == "token").strip() == ANSWER
    final = events[-1][1]
    assert final["answer"] == ANSWER and [c["id"] for c in final["citations"]] == ["1"]
    assert final["as_of"]["offsets"] == {"0": 3} and final["index_lag_seconds"] > 0
    assert final["unsupported_citations"] == [] and final["flagged_posts"] == []
    assert final["window"]["until"] is not None


def test_non_streaming_answer_carries_the_same_metadata():
    with make_client(ScriptedGenerator("Explosions at the finish line [1][9].")) as client:
        body = client.post("/v1/ask", json={"question": "What happened at the marathon?"}).json()
    assert body["as_of"]["newest_post_at"].startswith("2013-04-15T19:02")
    assert [(u["number"], u["reason"]) for u in body["unsupported_citations"]] == [(9, "not_retrieved")]
    assert body["citations"][0]["injection_risk"] == 0.0


def test_no_posts_streams_one_answer_event_without_calling_the_llm():
    generator = ScriptedGenerator("unused")
    with make_client(generator) as client:
        response = client.post(
            "/v1/ask", json={"question": "anything", "since": "2020-01-01T00:00:00Z", "stream": True}
        )
    events = parse_events(response.text)
    assert [name for name, _ in events] == ["answer"]
    assert events[0][1]["generated"] is False and generator.prompts == []


def test_llm_down_is_503_even_when_streaming():
    with make_client(StreamDownGenerator("")) as client:
        response = client.post("/v1/ask", json={"question": "marathon?", "stream": True})
    assert response.status_code == 503 and response.json()["error"]["type"] == "llm_unavailable"


def test_llm_timeout_is_504_and_mid_stream_an_error_event():
    with make_client(SlowGenerator(0)) as client:
        whole = client.post("/v1/ask", json={"question": "marathon?"})
        before_first = client.post("/v1/ask", json={"question": "marathon?", "stream": True})
    assert whole.status_code == 504 and whole.json()["error"]["type"] == "llm_timeout"
    assert before_first.status_code == 504
    with make_client(SlowGenerator(2)) as client:
        response = client.post("/v1/ask", json={"question": "marathon?", "stream": True})
    events = parse_events(response.text)
    assert response.status_code == 200
    assert [name for name, _ in events] == ["token", "token", "error"]
    assert events[-1][1]["error"]["type"] == "llm_timeout"


def test_client_disconnect_cancels_generation():
    """Drive the ASGI app directly: the client goes away after the first event."""
    generator = ScriptedGenerator(" ".join(["word"] * 200), delay_s=0.01)
    with make_client(generator) as client:  # runs the lifespan; reuse its app and components
        app = client.app
        sent: list[dict] = []

        async def drive():
            first_body = asyncio.Event()
            body = json.dumps({"question": "marathon explosions?", "stream": True}).encode()
            requests = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive():
                if requests:
                    return requests.pop()
                await first_body.wait()
                return {"type": "http.disconnect"}

            async def send(message):
                sent.append(message)
                if message["type"] == "http.response.body" and message.get("body"):
                    first_body.set()

            scope = {
                "type": "http",
                "asgi": {"version": "3.0", "spec_version": "2.3"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/v1/ask",
                "raw_path": b"/v1/ask",
                "query_string": b"",
                "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
                "client": ("127.0.0.1", 1),
                "server": ("test", 80),
                "app": app,
                "state": {},
            }
            await asyncio.wait_for(app(scope, receive, send), 10)

        asyncio.run(drive())
    bodies = [m for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert 1 <= len(bodies) < 200, "the stream ran to the end despite the disconnect"
    assert generator.closed == 1 and generator.finished == 0


def test_app_builds_with_default_settings():
    assert any(route.path == "/v1/ask" for route in create_app(Settings()).routes)
