import json

from kafka.consumer.fetcher import ConsumerRecord

from ingest.batch import decode_batch

POST = {"text": "hello world", "author": "ann", "created_at": "2013-01-01T00:00:00Z"}


def record(offset, key, value, partition=0):
    encoded = None if value is None else (value if isinstance(value, bytes) else json.dumps(value).encode())
    return ConsumerRecord(
        topic="posts",
        partition=partition,
        leader_epoch=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key and key.encode(),
        value=encoded,
        headers=[],
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        serialized_header_size=0,
    )


def test_last_upsert_per_id_wins_and_a_delete_is_final():
    batch = decode_batch(
        [
            record(0, "a", POST | {"id": "a"}),
            record(1, "a", POST | {"id": "a", "text": "edited"}),
            record(2, "b", POST | {"id": "b"}),
            record(3, "b", None),
            record(4, "c", None),
            record(5, "c", POST | {"id": "c"}),
        ]
    )
    assert batch.upserts["a"][0].text == "edited"
    assert set(batch.upserts) == {"a"}
    assert batch.deletes == {"b", "c"}  # "c" was deleted before its post arrived: it stays deleted
    assert batch.next_offsets == {0: 6}


def test_bad_records_become_dead_letters_with_provenance():
    batch = decode_batch([record(7, "x", b"{oops", partition=3), record(8, "y", POST | {"id": "y"}, 3)])
    assert [letter.offset for letter in batch.dead] == [7]
    assert batch.dead[0].partition == 3
    assert "JSON" in batch.dead[0].error
    assert dict(batch.dead[0].headers())["source.offset"] == b"7"
    assert list(batch.upserts) == ["y"]
