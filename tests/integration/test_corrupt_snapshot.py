"""A corrupted newest snapshot: recovery uses the previous one plus replay, and loses nothing."""

from __future__ import annotations

import signal
import time

import pytest
from kafka import KafkaProducer

from index.snapshot import read_snapshot, snapshots
from ingest.replay import load_posts
from tests.integration.conftest import wait_for
from tests.integration.ingest_process import committed_offsets, end_offsets, ingest_process

pytestmark = pytest.mark.slow


def send(settings, posts) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    for post in posts:
        producer.send(settings.kafka.topic, key=post.id.encode(), value=post.to_json_bytes())
    producer.flush(30)
    producer.close()


def run_until_caught_up(settings, snapshot_dir, log_path) -> None:
    """Start ingest, wait until it has committed the whole topic, stop it gracefully."""
    process = ingest_process(settings, snapshot_dir, log_path)
    try:
        ends = end_offsets(settings)
        wait_for(lambda: committed_offsets(settings) == ends, 180, "ingest to catch up", interval_s=0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    assert process.returncode == 0, log_path.read_text()[-3000:]


def test_a_corrupt_newest_snapshot_falls_back_to_the_previous_one(settings, crisislex_dir, tmp_path):
    posts = load_posts([crisislex_dir], limit=900, rebase_now=True)
    first, second = posts[:600], posts[600:]
    snapshot_dir, log_path = tmp_path / "snapshots", tmp_path / "ingest.log"

    send(settings, first[:300])
    run_until_caught_up(settings, snapshot_dir, log_path)
    time.sleep(0.01)  # snapshot names are milliseconds
    send(settings, first[300:])
    run_until_caught_up(settings, snapshot_dir, log_path)
    newest, previous = snapshots(snapshot_dir)[:2]
    assert len(read_snapshot(previous).records) < len(read_snapshot(newest).records)

    vectors = newest / "vectors.faiss"
    data = bytearray(vectors.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: the checksum must catch it
    vectors.write_bytes(bytes(data))

    send(settings, second)
    run_until_caught_up(settings, snapshot_dir, log_path)
    log = log_path.read_text()
    assert f"skipping snapshot {newest.name}" in log and f"index restored from {previous}" in log, log[-3000:]
    state = read_snapshot(snapshots(snapshot_dir)[0])
    indexed = [record.post_id for record in state.records if record is not None]
    expected = {post.id for post in posts}
    print(f"\nexpected {len(expected)}, indexed {len(indexed)}, distinct {len(set(indexed))}")
    assert set(indexed) == expected and len(indexed) == len(expected)
