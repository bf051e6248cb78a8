import json
from datetime import UTC, datetime

import pytest

from ingest.errors import InvalidRecord
from ingest.schema import Delete, Post, Upsert, decode_record

GOOD = {"id": "42", "text": "Flooding on Main St", "author": "ann", "created_at": "2013-06-21T10:00:00Z"}


def encode(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def test_decodes_a_valid_post_as_upsert():
    operation = decode_record(b"42", encode(GOOD))
    assert isinstance(operation, Upsert)
    assert operation.post.id == "42"
    assert operation.post.created_at == datetime(2013, 6, 21, 10, tzinfo=UTC)


def test_offsets_are_converted_to_utc_and_naive_times_taken_as_utc():
    shifted = decode_record(None, encode(GOOD | {"created_at": "2013-06-21T12:00:00+02:00"}))
    naive = decode_record(None, encode(GOOD | {"created_at": "2013-06-21T10:00:00"}))
    assert shifted.post.created_at == naive.post.created_at == datetime(2013, 6, 21, 10, tzinfo=UTC)


def test_tombstone_deletes_the_key():
    assert decode_record(b"42", None) == Delete("42")


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"1", b"{not json", "not valid JSON"),
        (b"1", b"[1, 2]", "JSON object"),
        (None, encode({k: v for k, v in GOOD.items() if k != "id"}), "id"),
        (b"42", encode(GOOD | {"text": "   "}), "text"),
        (b"42", encode(GOOD | {"created_at": "yesterday"}), "created_at"),
        (b"42", encode(GOOD | {"like_count": -1}), "like_count"),
        (b"7", encode(GOOD), "does not match"),
        (None, None, "tombstone without a key"),
        (b"\xff", encode(GOOD), "not UTF-8"),
    ],
)
def test_invalid_records_name_the_reason(key, value, reason):
    with pytest.raises(InvalidRecord, match=reason):
        decode_record(key, value)


def test_round_trip_through_json_bytes():
    post = Post.model_validate(GOOD | {"lang": "en", "like_count": 3})
    assert decode_record(b"42", post.to_json_bytes()) == Upsert(post)
