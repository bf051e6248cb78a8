"""The index stage on its own thread, with the real store and small stand-ins for model and DLQ."""

import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from index.errors import EmbedderError
from index.store import PostStore
from index.stories import StoryTracker
from index.trend_config import TrendsConfig
from ingest.batch import decode_batch
from ingest.errors import BrokerUnavailable, IngestStageFailed
from ingest.metrics import IngestMetrics
from ingest.pipeline import IndexStage, IngestProgress, StageParts
from tests.ingest.test_batch import POST, record
from tests.rag.helpers import BagOfWordsEmbedder


class PickyEmbedder(BagOfWordsEmbedder):
    """Refuses any batch containing the word 'poison', like a model choking on one input."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def embed(self, texts):
        time.sleep(self.delay_s)
        if any("poison" in text for text in texts):
            raise EmbedderError("cannot embed")
        return super().embed(texts)


class RecordingDLQ:
    def __init__(self, fail_flush: bool = False) -> None:
        self.sent = []
        self.fail_flush = fail_flush

    def send(self, letter):
        self.sent.append(letter)

    def flush(self, timeout_s: float = 30.0):
        if self.fail_flush:
            raise BrokerUnavailable("dead letters not acknowledged")


def make_stage(embedder=None, dlq=None, registry=None):
    embedder = embedder or PickyEmbedder()
    store = PostStore(embedder.dim)
    metrics = IngestMetrics(registry) if registry else None
    parts = StageParts(embedder, store, dlq or RecordingDLQ(), IngestProgress(), metrics)
    return IndexStage(parts, depth=2), store, parts


def records(start, texts, partition=0):
    return [
        record(start + n, f"p{start + n}", POST | {"id": f"p{start + n}", "text": text}, partition)
        for n, text in enumerate(texts)
    ]


def submit(stage, batch_records):
    stage.submit(decode_batch(batch_records), batch_records)


def test_batches_are_indexed_in_order_and_their_offsets_reported_done():
    stage, store, parts = make_stage(PickyEmbedder(delay_s=0.02))
    with stage:
        for start in (0, 3, 6):
            submit(stage, records(start, ["fire downtown", "flood warning", "road closed"]))
        stage.drain()
        done = stage.done_offsets()
        assert stage.done_offsets() == done  # kept until the commit succeeds
        stage.mark_committed(done)
    assert len(store) == 9
    assert store.stats().applied_offsets == {0: 9}
    assert [meta.offset for meta in done.values()] == [9]
    assert parts.progress.batches == 3
    assert stage.done_offsets() == {}


def test_a_post_the_model_refuses_becomes_a_dead_letter_and_the_rest_are_indexed():
    dlq = RecordingDLQ()
    stage, store, _ = make_stage(dlq=dlq)
    with stage:
        submit(stage, records(0, ["fire downtown", "poison text", "road closed"]))
        stage.drain()
    assert sorted(store.get(f"p{n}") is not None for n in range(3)) == [False, True, True]
    assert [letter.offset for letter in dlq.sent] == [1]
    assert "embedding failed" in dlq.sent[0].error
    assert store.stats().applied_offsets == {0: 3}


def test_unacknowledged_dead_letters_leave_the_index_and_offsets_untouched():
    stage, store, _ = make_stage(dlq=RecordingDLQ(fail_flush=True))
    bad = record(0, "x", b"{not json")
    with stage:
        stage.submit(decode_batch([bad, *records(1, ["fire downtown"])]), [bad])
        with pytest.raises(IngestStageFailed, match="not acknowledged"):
            stage.drain()
    assert len(store) == 0 and store.stats().applied_offsets == {}


def test_a_failed_stage_refuses_more_work():
    stage, _, _ = make_stage(dlq=RecordingDLQ(fail_flush=True))
    bad = record(0, "x", b"{not json")
    with stage:
        stage.submit(decode_batch([bad]), [bad])
        with pytest.raises(IngestStageFailed):
            for _ in range(50):
                submit(stage, records(1, ["fire downtown"]))
                time.sleep(0.01)


def test_metrics_count_every_indexed_post():
    registry = CollectorRegistry()
    stage, store, _ = make_stage(registry=registry)
    with stage:
        submit(stage, records(0, ["fire downtown", "flood warning"]))
        submit(stage, records(2, ["road closed"]))
        stage.drain()
    assert registry.get_sample_value("feedpulse_ingest_freshness_seconds_count") == len(store) == 3
    assert registry.get_sample_value("feedpulse_ingest_batch_size_count") == 2


def test_closing_finishes_the_batches_in_hand():
    stage, store, _ = make_stage(PickyEmbedder(delay_s=0.05))
    with stage:
        submit(stage, records(0, ["fire downtown"]))
        submit(stage, records(1, ["flood warning"]))
    assert len(store) == 2
    assert np.isfinite(store.stats().newest_created_at)


def test_a_tombstone_takes_the_post_out_of_its_story_centroid():
    embedder = PickyEmbedder()
    store = PostStore(embedder.dim)
    stories = StoryTracker(embedder.dim, TrendsConfig(join_threshold=0.3))
    parts = StageParts(embedder, store, RecordingDLQ(), IngestProgress(), stories=stories)
    with IndexStage(parts, depth=2) as stage:
        submit(stage, records(0, ["flood warning river rising", "flood warning river downtown"]))
        submit(stage, [record(2, "p1", None)])  # tombstone for the second post
        stage.drain()
    story = stories.stories[stories.story_of("p0")]
    assert list(story.posts) == ["p0"] and store.get("p1") is None
    alone = embedder.embed(["flood warning river rising"])[0]
    assert np.allclose(stories.vector_sum(story), alone, atol=1e-5)
