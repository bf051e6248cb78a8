"""The long-lived parts the API uses, built and torn down together by the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge

from index.embedder import Embedder, SentenceTransformerEmbedder
from index.snapshot import SnapshotFollower, SnapshotScheduler, restore_latest
from index.store import PostStore
from index.stories import StoryTracker
from index.story_state import StoriesPart
from index.trends import TrendTracker
from ingest.metrics import IngestMetrics
from ingest.topics import broker_reachable
from ingest.worker import IngestService, IngestWorker
from rag.engine import AnswerEngine
from rag.generation import Generator
from rag.injection_probe import DEFAULT_PATH as PROBE_PATH
from rag.injection_probe import InjectionProbe, load_probe
from rag.priority import ForegroundGate
from rag.retrieval import Retriever
from rag.screening import Screening
from rag.story_summary import StorySummaries, StorySummariser
from serve.llm_backend import open_generator
from serve.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Components:
    """What routes depend on; ``ingest`` is None when this process only serves."""

    settings: Settings
    embedder: Embedder
    store: PostStore
    retriever: Retriever
    generator: Generator
    engine: AnswerEngine
    ingest: IngestService | None
    index_status: Callable[[], tuple[bool, str]]
    registry: CollectorRegistry  # what GET /metrics exports
    trends: TrendTracker | None = None  # None when settings.trends.enabled is false
    summaries: StorySummaries | None = None  # None when trends or settings.summaries are off

    async def broker_status(self) -> tuple[bool, str]:
        return await asyncio.to_thread(broker_reachable, self.settings.kafka)


@contextmanager
def indexing(
    settings: Settings,
    embedder: Embedder,
    store: PostStore,
    registry: CollectorRegistry,
    stories: StoryTracker | None = None,
) -> Iterator[IngestService]:
    """Restore the newest snapshot, consume from its offsets, snapshot periodically and at exit."""
    scheduler = None
    parts = [StoriesPart(stories)] if stories is not None else []
    if settings.index.snapshots:
        root = Path(settings.index.snapshot_dir)
        restored = restore_latest(store, root, parts)
        if restored:
            log.info("index restored from %s (%d posts)", restored, len(store))
        else:
            log.info("no snapshot to restore: indexing from the start of the topic")
        scheduler = SnapshotScheduler(
            store,
            root,
            settings.index.snapshot_interval_s,
            settings.index.snapshots_kept,
            settings.index.snapshot_every_posts,
            parts,
        )
    worker = IngestWorker(
        settings.kafka,
        settings.ingest,
        embedder,
        store,
        checkpoints=scheduler,
        metrics=IngestMetrics(registry),
        stories=stories,
    )
    with IngestService(worker) as service:
        try:
            yield service
        finally:
            service.stop()
            if scheduler:
                scheduler.write_now()


@asynccontextmanager
async def build_components(settings: Settings, *, run_ingest: bool) -> AsyncIterator[Components]:
    """Load the embedder and store, connect the LLM client, start ingest or follow snapshots."""
    async with AsyncExitStack() as stack:
        embedder = await asyncio.to_thread(SentenceTransformerEmbedder, settings.embedder)
        store = PostStore(embedder.dim, settings.index)  # logs where FAISS searches
        generator = await stack.enter_async_context(open_generator(settings))
        probe = injection_probe(settings, embedder.dim)
        retriever = Retriever(embedder, store, settings.retrieval, probe)
        stories = StoryTracker(embedder.dim, settings.trends) if settings.trends.enabled else None
        registry = CollectorRegistry()
        Gauge("feedpulse_index_posts", "Live posts in the index", registry=registry).set_function(
            lambda: len(store)
        )
        ingest = None
        index_status = _always_ready
        if run_ingest:
            ingest = stack.enter_context(indexing(settings, embedder, store, registry, stories))
        else:
            follower = stack.enter_context(
                SnapshotFollower(
                    store,
                    Path(settings.index.snapshot_dir),
                    settings.index.snapshot_interval_s / 2,
                    [StoriesPart(stories)] if stories is not None else [],
                )
            )
            index_status = follower.status
        # Answers go through the gate, so that background summaries give way to them.
        gate = ForegroundGate(generator)
        trends = TrendTracker(stories, store.get, embedder) if stories is not None else None
        log.info("components ready (ingest %s)", "on" if ingest else "off")
        yield Components(
            settings,
            embedder,
            store,
            retriever,
            generator,
            AnswerEngine(retriever, gate, embedder),
            ingest,
            index_status,
            registry,
            trends,
            story_summaries(settings, generator, gate, trends, Screening(embedder, probe)),
        )


def injection_probe(settings: Settings, embedder_dim: int) -> InjectionProbe | None:
    """The learned injection signal, when screening and the probe are on and it fits the embedder."""
    safety = settings.retrieval.safety
    if not (safety.enabled and safety.probe):
        return None
    return load_probe(PROBE_PATH, embedder_dim, packaged_model=settings.embedder.model_dir is None)


def story_summaries(
    settings: Settings,
    generator: Generator,
    gate: ForegroundGate,
    trends: TrendTracker | None,
    screening: Screening | None = None,
) -> StorySummaries | None:
    """One-line summaries of the top trends, when trends and ``settings.summaries`` are on.

    Args:
        screening: the answers' screening of posts (patterns, plus the probe when loaded).
    """
    if trends is None or not settings.summaries.enabled:
        return None
    summariser = StorySummariser(generator, settings.summaries, settings.retrieval.safety, screening)
    return StorySummaries(summariser, trends, gate, settings.summaries)


@asynccontextmanager
async def background_tasks(components: Components) -> AsyncIterator[None]:
    """Run the components' background loops (story summaries) while the context is open."""
    task = None
    if components.summaries is not None:
        task = asyncio.create_task(components.summaries.run(), name="story-summaries")
        log.info("story summaries: refreshing every %g s", components.settings.summaries.interval_s)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def _always_ready() -> tuple[bool, str]:
    return True, "ok"


@contextmanager
def ingest_only(settings: Settings) -> Iterator[IngestService]:
    """The worker without HTTP, for ``feedpulse ingest``."""
    with ExitStack() as stack:
        embedder = SentenceTransformerEmbedder(settings.embedder)
        store = PostStore(embedder.dim, settings.index)
        stories = StoryTracker(embedder.dim, settings.trends) if settings.trends.enabled else None
        yield stack.enter_context(indexing(settings, embedder, store, CollectorRegistry(), stories))
