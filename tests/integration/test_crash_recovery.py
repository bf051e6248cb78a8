"""Ledger + kill -9: acknowledged posts minus deleted ones are exactly what the index holds.

A producer writes 20,000 real CrisisLexT6 tweets (unique ids, acks=all) and
tombstones for some it already sent, recording what the broker acknowledged.
Meanwhile a separate ``feedpulse ingest`` process (real consumer, embedder,
FAISS, snapshots every second) is killed with SIGKILL at random moments and
restarted. At the end it is stopped gracefully and its last snapshot must hold
every acknowledged, undeleted id once and nothing else.
"""

from __future__ import annotations

import random
import signal
import threading
import time

import pytest
from kafka import KafkaProducer

from index.snapshot import read_snapshot, snapshots
from ingest.crisislex import merged_tweets
from serve.settings import Settings
from tests.integration.conftest import wait_for
from tests.integration.ingest_process import committed_offsets, end_offsets, ingest_process, newest_offsets

# 20,000 posts embedded on 2 cores plus 10 restarts: ~7 min alone, far more on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

POSTS = 20_000
KILLS = 10
DELETE_EVERY = 50  # one tombstone per this many posts, for a post sent earlier


class Ledger:
    """What the broker acknowledged: post ids, and ids whose tombstone was acknowledged."""

    def __init__(self) -> None:
        self.acked: set[str] = set()
        self.deleted: set[str] = set()
        self.failed = 0
        self._lock = threading.Lock()

    def record(self, post_id: str, tombstone: bool):
        def on_ack(_meta) -> None:
            with self._lock:
                (self.deleted if tombstone else self.acked).add(post_id)

        return on_ack

    def on_error(self, _exc) -> None:
        with self._lock:
            self.failed += 1


def produce(settings: Settings, texts: list[str], ledger: Ledger, done: threading.Event) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all", linger_ms=5)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for n, text in enumerate(texts):
        post_id = f"ledger-{n}"
        body = {"id": post_id, "text": text, "author": "crisislex", "created_at": created}
        future = producer.send(settings.kafka.topic, key=post_id.encode(), value=_json(body))
        future.add_callback(ledger.record(post_id, tombstone=False)).add_errback(ledger.on_error)
        if n and n % DELETE_EVERY == 0:
            victim = f"ledger-{n - DELETE_EVERY // 2}"
            future = producer.send(settings.kafka.topic, key=victim.encode(), value=None)
            future.add_callback(ledger.record(victim, tombstone=True)).add_errback(ledger.on_error)
        if n % 500 == 0:
            time.sleep(0.2)  # spread the writes over the kills
    producer.flush(60)
    producer.close()
    done.set()


def _json(body: dict) -> bytes:
    import json

    return json.dumps(body).encode()


def test_kill_9_loses_nothing_and_duplicates_nothing(settings, crisislex_dir, tmp_path):
    texts = [tweet.text for _, tweet in zip(range(POSTS), merged_tweets([crisislex_dir]), strict=False)]
    snapshot_dir = tmp_path / "snapshots"
    log_path = tmp_path / "ingest.log"
    ledger, produced = Ledger(), threading.Event()
    rng = random.Random(7)
    process = ingest_process(settings, snapshot_dir, log_path)
    producer = threading.Thread(target=produce, args=(settings, texts, ledger, produced), daemon=True)
    producer.start()
    kill_log = []
    try:
        for kill in range(KILLS):
            started = time.monotonic()
            before = sum(newest_offsets(snapshot_dir).values())
            # Wait until this run has made progress (it resumed), then kill it somewhere later.
            wait_for(lambda b=before: sum(newest_offsets(snapshot_dir).values()) > b, 120, "ingest to resume")
            resumed_s = time.monotonic() - started
            time.sleep(rng.uniform(0.2, 3.0))
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            kill_log.append((kill, round(resumed_s, 1), sum(newest_offsets(snapshot_dir).values())))
            process = ingest_process(settings, snapshot_dir, log_path)
        producer.join(300)
        assert produced.is_set() and ledger.failed == 0
        started = time.monotonic()
        ends = end_offsets(settings)
        wait_for(lambda: committed_offsets(settings) == ends, 600, "ingest to catch up", interval_s=1.0)
        catch_up_s = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)  # graceful: finish the batch, write a last snapshot
        process.wait(60)

    state = read_snapshot(snapshots(snapshot_dir)[0])
    indexed = [record.post_id for record in state.records if record is not None]
    vectors = state.vectors
    expected = ledger.acked - ledger.deleted
    lost, extra = expected - set(indexed), set(indexed) - expected
    duplicates = len(indexed) - len(set(indexed)) + (vectors - len(indexed))
    print(
        f"\nacknowledged {len(ledger.acked)}, deleted {len(ledger.deleted)}, indexed {len(indexed)}, "
        f"vectors {vectors}, lost {len(lost)}, unexpected {len(extra)}, duplicates {duplicates}; "
        f"kills (n, seconds to resume, offsets in snapshot): {kill_log}; final catch-up {catch_up_s:.1f} s"
    )
    assert process.returncode == 0, log_path.read_text()[-3000:]
    assert len(ledger.acked) == POSTS
    assert not lost and not extra and duplicates == 0
