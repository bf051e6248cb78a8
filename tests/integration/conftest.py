"""Session fixtures for integration tests: the real broker, embedder and vLLM server.

Each is started once per session and polled until ready; each test gets its own
topics and consumer group, so tests never see each other's posts.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from kafka import KafkaProducer

from index.config import EmbedderConfig
from index.embedder import SentenceTransformerEmbedder
from ingest.config import IngestConfig, KafkaConfig
from ingest.topics import ensure_topics
from serve.app import create_app
from serve.daemons.kafka import KafkaBroker
from serve.daemons.vllm import VLLMServer
from serve.settings import Settings

CACHE = Path(os.environ.get("FEEDPULSE_CACHE_DIR", Path.home() / ".cache" / "feedpulse"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# How long a handful of posts may take to become searchable before a test gives up. A liveness
# bound, not a speed check (bench/ measures freshness): CI runs vLLM beside the test on 2 cores.
INGEST_WAIT_S = 60.0


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> float:
    """Poll until ``check`` is true; returns seconds waited, fails the test on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def wait_indexed(client: httpx.Client, count: int, timeout_s: float, what: str = "posts indexed") -> float:
    """Poll the app's stats until it holds ``count`` posts; returns seconds waited."""
    return wait_for(lambda: client.get("/v1/stats").json()["posts_indexed"] >= count, timeout_s, what)


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for this session: own ports, own cache for state, the shared install cache."""
    state = tmp_path_factory.mktemp("feedpulse")
    return Settings(
        cache_dir=state,
        kafka=KafkaConfig(bootstrap_servers=f"127.0.0.1:{free_port()}"),
        ingest=IngestConfig(batch_max_wait_ms=50),
        broker={"controller_port": free_port(), "libs_dir": CACHE / "current" / "kafka-libs"},
        llm={"base_url": f"http://127.0.0.1:{free_port()}/v1"},
        llm_server={"model_dir": CACHE / "current" / "llm-model"},
        index={"snapshots": False},
        # Background trend summaries would send the shared vLLM requests no test asked for
        # (test_disconnect checks that vLLM is idle); they are unit-tested in tests/rag and tests/serve.
        summaries={"enabled": False},
    )


@pytest.fixture(scope="session")
def broker(base_settings: Settings) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(base_settings.kafka, base_settings.broker, base_settings.run_dir)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def llm_server(base_settings: Settings) -> Iterator[VLLMServer]:
    server = VLLMServer(base_settings.llm, base_settings.llm_server, base_settings.run_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(EmbedderConfig())


@pytest.fixture
def settings(base_settings: Settings, broker: KafkaBroker) -> Settings:
    """Per-test topics and group on the session broker, created up front."""
    suffix = uuid.uuid4().hex[:8]
    kafka = base_settings.kafka.model_copy(
        update={
            "topic": f"posts-{suffix}",
            "dlq_topic": f"posts-{suffix}.dlq",
            "group_id": f"group-{suffix}",
        }
    )
    ensure_topics(kafka)
    return base_settings.model_copy(update={"kafka": kafka})


@pytest.fixture
def producer(settings: Settings) -> Iterator[KafkaProducer]:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    yield producer
    producer.close()


@contextmanager
def running_api(settings: Settings) -> Iterator[httpx.Client]:
    """The real app served by uvicorn on a free port, in a thread; yields an HTTP client for it."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, run_ingest=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        log_config=None,  # uvicorn's dictConfig would remove pytest's handlers, hiding ingest's log
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), 120, "the API to start")
        if not server.started:
            pytest.fail("the API did not start (see the log above)")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(60)


@pytest.fixture
def app_client(settings: Settings) -> Iterator[httpx.Client]:
    """The real app (real embedder, FAISS, ingest thread, vLLM client) over HTTP, on the test's topics."""
    with running_api(settings) as client:
        yield client


def send_post(
    producer: KafkaProducer, topic: str, post: dict | None, key: str | None = None, raw: bytes | None = None
) -> None:
    """Send a post (JSON), a raw value, or a tombstone (post=None, raw=None) and wait for the ack."""
    value = raw if raw is not None else (None if post is None else json.dumps(post).encode())
    record_key = (key or (post or {}).get("id") or "").encode() or None
    producer.send(topic, key=record_key, value=value).get(timeout=30)
