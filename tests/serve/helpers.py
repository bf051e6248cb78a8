"""The app over in-memory parts: a store, a small embedder and a scripted generator."""

from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from index.store import PostStore
from index.trends import TrendTracker
from rag.engine import AnswerEngine
from rag.priority import ForegroundGate
from rag.retrieval import Retriever
from serve.app import create_app
from serve.components import Components, story_summaries
from serve.settings import Settings


def app_client(
    settings: Settings,
    embedder,
    store: PostStore,
    generator,
    trends: Callable[[], TrendTracker | None] = lambda: None,
    components_class: type[Components] = Components,
    summaries: bool = False,
) -> TestClient:
    """A TestClient for the real app whose lifespan yields these parts (no ingest).

    As ``build_components`` wires them: answers go through the ``ForegroundGate``; with
    ``summaries`` (and trends, and ``settings.summaries.enabled``) trend summaries run beside
    them. Off by default: a background LLM call would race tests that count prompts.
    """
    retriever = Retriever(embedder, store, settings.retrieval)
    gate = ForegroundGate(generator)

    @asynccontextmanager
    async def factory():
        tracker = trends()
        yield components_class(
            settings,
            embedder,
            store,
            retriever,
            generator,
            AnswerEngine(retriever, gate, embedder),
            None,
            lambda: (True, "ok"),
            CollectorRegistry(),
            tracker,
            story_summaries(settings, generator, gate, tracker) if summaries else None,
        )

    return TestClient(create_app(settings, components=factory))
