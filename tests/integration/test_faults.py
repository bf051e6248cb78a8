"""Fault tests: a corrupted newest snapshot, a tombstone lost to a crash, a broker killed
under load, and a graceful stop. Each runs a separate ``feedpulse ingest`` process
(real consumer, embedder, FAISS, snapshots every second) and checks its last
snapshot against what the broker acknowledged.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from index.errors import SnapshotError
from index.snapshot import read_snapshot, snapshots
from index.store import PostStore
from ingest.config import KafkaConfig
from ingest.crisislex import merged_tweets
from serve.daemons.kafka import KafkaBroker
from serve.settings import Settings
from tests.integration.conftest import CACHE, free_port, wait_for
from tests.integration.ingest_process import committed_offsets, end_offsets, ingest_process, newest_offsets

pytestmark = pytest.mark.slow


def texts(crisislex_dir: Path, count: int, skip: int = 0) -> list[str]:
    tweets = merged_tweets([crisislex_dir])
    return [
        tweet.text for n, (_, tweet) in enumerate(zip(range(skip + count), tweets, strict=False)) if n >= skip
    ]


def post_value(post_id: str, text: str) -> bytes:
    import json

    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"id": post_id, "text": text, "author": "crisislex", "created_at": created}).encode()


def send_all(
    settings: Settings, items: list[tuple[str, bytes | None]], stop_after_s: float = 300
) -> set[str]:
    """Send (id, value or None for a tombstone) until every one is acknowledged; returns the ids."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        acks="all",
        linger_ms=5,
        request_timeout_ms=5_000,
        reconnect_backoff_max_ms=500,
    )
    pending = list(items)
    deadline = time.monotonic() + stop_after_s
    try:
        while pending and time.monotonic() < deadline:
            futures = [
                (item, producer.send(settings.kafka.topic, key=item[0].encode(), value=item[1]))
                for item in pending
            ]
            pending = []
            for item, future in futures:
                try:
                    future.get(timeout=15)
                except KafkaError:  # the broker is down: send it again once it is back
                    pending.append(item)
            if pending:
                time.sleep(0.5)
    finally:
        producer.close(timeout=5)
    assert not pending, f"{len(pending)} records never acknowledged"
    return {post_id for post_id, _ in items}


def caught_up(settings: Settings, snapshot_dir: Path) -> bool:
    ends = end_offsets(settings)
    return newest_offsets(snapshot_dir) == ends and committed_offsets(settings) == ends


def indexed_ids(snapshot_dir: Path) -> list[str]:
    """Post ids in the newest snapshot that verifies."""
    for path in snapshots(snapshot_dir):
        try:
            state = read_snapshot(path)
        except SnapshotError:
            continue
        return [record.post_id for record in state.records if record is not None]
    return []


def stop_gracefully(process) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(60)


def test_corrupted_newest_snapshot_recovers_from_the_previous_one_plus_replay(
    settings, crisislex_dir, tmp_path
):
    snapshot_dir, log_path = tmp_path / "snapshots", tmp_path / "ingest.log"
    corpus = texts(crisislex_dir, 1_500)
    first = send_all(settings, [(f"c-{n}", post_value(f"c-{n}", t)) for n, t in enumerate(corpus[:1_000])])
    process = ingest_process(settings, snapshot_dir, log_path)
    try:
        wait_for(lambda: caught_up(settings, snapshot_dir), 180, "the first 1,000 posts")
    finally:
        code = stop_gracefully(process)
    assert code == 0, log_path.read_text()[-3000:]
    assert len(snapshots(snapshot_dir)) >= 2, "need an older snapshot to fall back to"
    newest = snapshots(snapshot_dir)[0]
    fallback = read_snapshot(snapshots(snapshot_dir)[1])
    vectors = max(newest.glob("segment-*.faiss"))  # the writable segment's: never shared with the previous
    blob = bytearray(vectors.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte: the checksum must catch it
    vectors.write_bytes(bytes(blob))

    second = send_all(
        settings, [(f"c-{n}", post_value(f"c-{n}", t)) for n, t in enumerate(corpus) if n >= 1_000]
    )
    process = ingest_process(settings, snapshot_dir, log_path)
    started = time.monotonic()
    try:
        wait_for(lambda: set(indexed_ids(snapshot_dir)) == first | second, 180, "recovery and catch-up")
        catch_up_s = time.monotonic() - started
    finally:
        code = stop_gracefully(process)
    indexed = indexed_ids(snapshot_dir)
    kept = sum(r is not None for r in fallback.records)
    print(
        f"\ncorrupt newest snapshot: fell back to one with {kept} posts "
        f"(offsets {sum(fallback.offsets.values())}), replayed to {len(indexed)} in {catch_up_s:.1f} s; "
        f"lost {len((first | second) - set(indexed))}, duplicates {len(indexed) - len(set(indexed))}"
    )
    assert code == 0
    assert "skipping snapshot" in log_path.read_text()
    assert sorted(indexed) == sorted(first | second)


def test_a_tombstone_lost_to_a_crash_is_replayed_and_the_post_never_comes_back(
    settings, crisislex_dir, tmp_path, embedder
):
    snapshot_dir, log_path = tmp_path / "snapshots", tmp_path / "ingest.log"
    corpus = texts(crisislex_dir, 600, skip=5_000)
    posts = {f"t-{n}": text for n, text in enumerate(corpus)}
    send_all(settings, [(pid, post_value(pid, text)) for pid, text in posts.items()])
    process = ingest_process(settings, snapshot_dir, log_path)
    try:
        wait_for(lambda: caught_up(settings, snapshot_dir), 180, "the posts to be indexed")
        victims = sorted(posts)[::20]
        send_all(settings, [(pid, None) for pid in victims])
        process.send_signal(signal.SIGKILL)  # at once: the deletes are at best in memory, not snapshotted
        process.wait(30)
        # The deleted posts are sent again (a late duplicate): they must stay deleted.
        send_all(settings, [(pid, post_value(pid, posts[pid])) for pid in victims])
        process = ingest_process(settings, snapshot_dir, log_path)
        started = time.monotonic()
        wait_for(lambda: caught_up(settings, snapshot_dir), 180, "replay after the crash")
        replay_s = time.monotonic() - started
    finally:
        code = stop_gracefully(process)
    assert code == 0, log_path.read_text()[-3000:]

    store = PostStore(embedder.dim)
    store.restore(read_snapshot(snapshots(snapshot_dir)[0]))
    queries = embedder.embed([posts[pid] for pid in victims])
    found = {hit.post.post_id for query in queries for hit in store.search(np.asarray(query), 10)}
    resurrected = found & set(victims)
    print(
        f"\n{len(victims)} tombstones replayed after kill -9 in {replay_s:.1f} s; resurrected: {resurrected}"
    )
    assert not found & set(victims)
    assert all(store.get(pid) is None for pid in victims)
    assert len(store) == len(posts) - len(victims)


@pytest.fixture
def own_broker(base_settings: Settings, tmp_path: Path):
    """A broker for this test alone, so killing it does not disturb the session's broker."""
    kafka = KafkaConfig(bootstrap_servers=f"127.0.0.1:{free_port()}", topic="posts-bounce", group_id="bounce")
    broker_config = base_settings.broker.model_copy(
        update={
            "controller_port": free_port(),
            "data_dir": tmp_path / "kafka",
            "libs_dir": CACHE / "current" / "kafka-libs",
        }
    )
    broker = KafkaBroker(kafka, broker_config, tmp_path / "run")
    broker.start()  # also creates the topics
    try:
        yield broker, base_settings.model_copy(update={"kafka": kafka})
    finally:
        broker.stop()


def test_broker_hard_kill_under_load_loses_nothing_and_ingest_resumes(own_broker, crisislex_dir, tmp_path):
    broker, settings = own_broker
    snapshot_dir, log_path = tmp_path / "snapshots", tmp_path / "ingest.log"
    corpus = texts(crisislex_dir, 3_000, skip=10_000)
    items = [(f"b-{n}", post_value(f"b-{n}", t)) for n, t in enumerate(corpus)]
    process = ingest_process(settings, snapshot_dir, log_path)
    acked: set[str] = set()
    writer = threading.Thread(target=lambda: acked.update(send_all(settings, items)), daemon=True)
    try:
        writer.start()
        wait_for(lambda: sum(newest_offsets(snapshot_dir).values()) > 500, 120, "ingest under load")
        os.killpg(broker.status().pid, signal.SIGKILL)  # no clean shutdown: the broker just vanishes
        wait_for(lambda: not broker.status().running, 30, "the broker to die")
        time.sleep(3)
        broker.start()
        back = time.monotonic()
        at_restart = sum(newest_offsets(snapshot_dir).values())
        wait_for(lambda: sum(newest_offsets(snapshot_dir).values()) > at_restart, 60, "ingest to resume")
        resume_s = time.monotonic() - back
        writer.join(300)
        wait_for(lambda: caught_up(settings, snapshot_dir), 300, "ingest to catch up")
    finally:
        code = stop_gracefully(process)
    indexed = indexed_ids(snapshot_dir)
    lost = acked - set(indexed)
    print(
        f"\nbroker kill -9 under load: acknowledged {len(acked)}, indexed {len(indexed)}, lost {len(lost)}, "
        f"duplicates {len(indexed) - len(set(indexed))}; "
        f"ingest resumed {resume_s:.1f} s after the broker was back"
    )
    assert code == 0, log_path.read_text()[-3000:]
    assert len(acked) == len(items) and not lost and len(indexed) == len(set(indexed))
    assert set(indexed) == acked
    assert resume_s <= 10, f"ingest resumed {resume_s:.1f} s after the broker came back (issue: ≤ 10 s)"
