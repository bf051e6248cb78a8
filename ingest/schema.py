"""The post schema carried on the ``posts`` topic, and decoding of raw Kafka records.

A record's key is the post id and its value the post as JSON; a record with a
null value (a tombstone) deletes the post named by its key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.errors import InvalidRecord


class Post(BaseModel):
    """One social-media post as producers send it."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20_000)
    author: str = Field(min_length=1, max_length=256)
    created_at: datetime
    lang: str | None = None
    url: str | None = None
    reply_to: str | None = None
    repost_of: str | None = None
    like_count: int | None = Field(None, ge=0)
    repost_count: int | None = Field(None, ge=0)
    # Set by a producer that re-sends an edited post: the newer edit wins, whatever the arrival order.
    edited_at: datetime | None = None

    @field_validator("created_at", "edited_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        # A time without an offset is taken as UTC, the schema's documented zone.
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def to_json_bytes(self) -> bytes:
        """Serialise as the record value producers send."""
        return self.model_dump_json(exclude_none=True).encode()


@dataclass(slots=True, frozen=True)
class Upsert:
    """A record that adds or replaces a post."""

    post: Post


@dataclass(slots=True, frozen=True)
class Delete:
    """A tombstone: the post with this id is to be removed."""

    post_id: str


def decode_record(key: bytes | None, value: bytes | None) -> Upsert | Delete:
    """Turn a record's key and value into an upsert or a delete.

    Raises:
        InvalidRecord: with a reason fit for the dead-letter headers.
    """
    key_text = _decode_key(key)
    if value is None:
        if not key_text:
            raise InvalidRecord("tombstone without a key: no post id to delete")
        return Delete(key_text)
    post = _decode_post(value)
    if key_text and key_text != post.id:
        raise InvalidRecord(f"record key {key_text!r} does not match post id {post.id!r}")
    return Upsert(post)


def _decode_key(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"record key is not UTF-8: {exc}") from exc


def _decode_post(value: bytes) -> Post:
    try:
        payload = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRecord(f"value is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidRecord(f"value must be a JSON object, got {type(payload).__name__}")
    try:
        return Post.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRecord(f"invalid post: {_summarise(exc)}") from exc


def _summarise(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()]
    return "; ".join(parts)
