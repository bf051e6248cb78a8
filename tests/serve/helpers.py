"""The app over in-memory parts: a store, a small embedder and a scripted generator."""

from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from index.store import PostStore
from index.trends import TrendTracker
from rag.engine import AnswerEngine
from rag.retrieval import Retriever
from serve.app import create_app
from serve.components import Components
from serve.settings import Settings


def app_client(
    settings: Settings,
    embedder,
    store: PostStore,
    generator,
    trends: Callable[[], TrendTracker | None] = lambda: None,
    components_class: type[Components] = Components,
) -> TestClient:
    """A TestClient for the real app whose lifespan yields these parts (no ingest)."""
    retriever = Retriever(embedder, store, settings.retrieval)

    @asynccontextmanager
    async def factory():
        yield components_class(
            settings,
            embedder,
            store,
            retriever,
            generator,
            AnswerEngine(retriever, generator, embedder),
            None,
            lambda: (True, "ok"),
            CollectorRegistry(),
            trends(),
        )

    return TestClient(create_app(settings, components=factory))
