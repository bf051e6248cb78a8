import pytest

from index.records import PostRecord
from index.store import PostStore
from rag.config import RetrievalConfig
from rag.retrieval import Retriever
from tests.rag.helpers import BagOfWordsEmbedder

HOUR = 3600.0
NOW = 1_700_000_000.0


@pytest.fixture
def retriever() -> Retriever:
    embedder = BagOfWordsEmbedder()
    store = PostStore(embedder.dim)
    posts = [
        ("old", "flood water rising downtown", NOW - 48 * HOUR),
        ("f1", "flood water rising near the river", NOW - 2 * HOUR),
        ("rt", "RT @news: flood water rising near the river", NOW - HOUR),
        ("f2", "river flood closes bridge", NOW),
        ("x", "lovely sunny day for a picnic", NOW - HOUR),
    ]
    records = [PostRecord(post_id=i, text=t, author="a", created_at=c) for i, t, c in posts]
    store.apply(records, embedder.embed([t for _, t, _ in posts]))
    return Retriever(embedder, store, RetrievalConfig(k=3, window_hours=24))


def test_default_window_ends_at_newest_post_and_drops_reposts(retriever):
    result = retriever.retrieve("flood water river")
    ids = [hit.post.post_id for hit in result.hits]
    assert "old" not in ids and "rt" not in ids
    assert ids[:2] == ["f1", "f2"] or ids[:2] == ["f2", "f1"]
    assert (result.since, result.until) == (NOW - 24 * HOUR, NOW)


def test_open_window_searches_everything(retriever):
    ids = {
        hit.post.post_id for hit in retriever.retrieve("flood water downtown", k=5, recent_window=False).hits
    }
    assert "old" in ids


def test_until_alone_looks_back_one_window(retriever):
    result = retriever.retrieve("flood", until=NOW - 24 * HOUR)
    assert [hit.post.post_id for hit in result.hits] == ["old"]
