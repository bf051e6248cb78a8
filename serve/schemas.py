"""HTTP request and response models (pydantic at the edge only)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from index.records import PostRecord


def to_datetime(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


class TimeWindow(BaseModel):
    since: datetime | None
    until: datetime | None


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2_000)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    k: int | None = Field(None, ge=1, le=50)
    stream: bool = Field(
        False, description="server-sent events: `token` events, then one `answer` (or `error`) event"
    )

    @model_validator(mode="after")
    def _window_in_order(self) -> AskRequest:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        if not self.question.strip():
            raise ValueError("question must not be blank")
        return self


class PostOut(BaseModel):
    id: str
    text: str
    author: str
    created_at: datetime
    url: str | None = None
    lang: str | None = None

    @classmethod
    def from_record(cls, post: PostRecord) -> PostOut:
        return cls(
            id=post.post_id,
            text=post.text,
            author=post.author,
            created_at=to_datetime(post.created_at),
            url=post.url,
            lang=post.lang,
        )


class PostDetail(PostOut):
    indexed_at: datetime
    partition: int
    offset: int


class CitationOut(PostOut):
    number: int = Field(description="1-based place of the post in the prompt")
    score: float = Field(description="cosine similarity of the post to the question")
    inferred: bool = Field(description="true when attributed by overlap, not by a [n] marker")
    injection_risk: float | None = Field(
        None, description="0..1 score of attack phrasing in the post (null when defences are off)"
    )


class UnsupportedCitationOut(BaseModel):
    number: int = Field(description="the [n] the model wrote")
    post_id: str | None = Field(description="the retrieved post it named, null when none")
    reason: str = Field(
        description="not_retrieved | not_live (deleted meanwhile) | quote_not_in_post | flagged_post"
    )
    sentence: str


class RemovalOut(BaseModel):
    sentence: str = Field(description="the sentence as the model wrote it")
    reason: str = Field(
        description="ungrounded_token | prompt_leak | flagged_support (sentence dropped) | "
        "link_removed (only the link was cut)"
    )
    detail: str = Field(description="what triggered it, e.g. the link or token")


class FlaggedPostOut(PostOut):
    injection_risk: float
    reasons: list[str]
    action: str = Field(description="excluded (left out of the prompt) or downweighted")


class AsOf(BaseModel):
    newest_post_at: datetime | None = Field(description="created time of the newest indexed post")
    offsets: dict[int, int] = Field(description="partition -> next offset; the index reflects all before")


class AskTimings(BaseModel):
    retrieve_ms: float
    generate_ms: float
    attribute_ms: float = Field(description="citation attribution after generation")
    total_ms: float


class AskResponse(BaseModel):
    question: str
    answer: str
    generated: bool = Field(description="false when no post matched and the LLM was not called")
    model: str | None
    citations: list[CitationOut]
    unsupported_citations: list[UnsupportedCitationOut] = Field(
        description="citations the model wrote that verification removed"
    )
    unsupported_sentences: list[str] = Field(
        description="sentences of the answer no live retrieved post supports"
    )
    flagged_posts: list[FlaggedPostOut] = Field(
        description="retrieved posts that looked like prompt injections"
    )
    removals: list[RemovalOut] = Field(
        default_factory=list, description="what the output guard took out of the answer (defences on)"
    )
    as_of: AsOf
    index_lag_seconds: float | None = Field(
        description="answer time minus the newest indexed post's created time"
    )
    window: TimeWindow
    timings: AskTimings


class SearchHitOut(PostOut):
    score: float


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHitOut]
    window: TimeWindow
    took_ms: float


class IngestStatsOut(BaseModel):
    running: bool
    connected: bool
    batches: int
    posts_indexed: int
    posts_deleted: int
    dead_letters: int
    last_error: str | None


class StatsResponse(BaseModel):
    posts_indexed: int
    vectors: int = Field(description="vectors in FAISS; equals posts_indexed (one per post)")
    segments: int = Field(description="time segments holding them (the oldest is dropped by retention)")
    deletes_remembered: int = Field(description="deleted ids kept so a late copy is not resurrected")
    newest_created_at: datetime | None
    oldest_created_at: datetime | None
    applied_offsets: dict[int, int] = Field(description="partition -> next offset to read")
    consumer_lag: dict[int, int] = Field(description="partition -> records not yet indexed")
    ingest: IngestStatsOut | None


class Check(BaseModel):
    ok: bool
    detail: str


class ReadinessResponse(BaseModel):
    ready: bool
    checks: dict[str, Check] = Field(description="broker, index, llm")


class ErrorBody(BaseModel):
    type: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
