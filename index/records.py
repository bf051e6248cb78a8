"""Plain records held by the store and returned by searches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class PostRecord:
    """What the index keeps about one live post (its vector lives in FAISS)."""

    post_id: str
    text: str
    author: str
    created_at: float  # Unix seconds, UTC
    url: str | None = None
    lang: str | None = None
    indexed_at: float = 0.0  # Unix seconds when the post became searchable
    partition: int = -1
    offset: int = -1
    edited_at: float | None = None  # Unix seconds of the last edit, when the post says

    @property
    def version(self) -> tuple[float, int]:
        """Newer edits win; among equal times, the later Kafka offset (same id, same partition)."""
        return (self.edited_at if self.edited_at is not None else self.created_at, self.offset)


@dataclass(slots=True, frozen=True)
class SearchHit:
    """One search result: the post and its cosine similarity to the query."""

    post: PostRecord
    score: float


@dataclass(slots=True, frozen=True)
class IndexStats:
    """A consistent view of the store's size and progress."""

    posts: int
    vectors: int  # vectors in FAISS: equals posts unless something went wrong
    newest_created_at: float | None
    oldest_created_at: float | None
    applied_offsets: dict[int, int]  # partition -> next offset to read
    deletes_remembered: int = 0  # deleted ids kept so a late post is not resurrected
    segments: int = 0  # time segments holding them (index/segments.py)
