"""A separate ``feedpulse ingest`` process on a test's topics, and what it has indexed and committed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from index.snapshot import read_snapshot, snapshots
from serve.settings import Settings
from tests.integration.conftest import CACHE


def ingest_process(settings: Settings, snapshot_dir: Path, log_path: Path) -> subprocess.Popen:
    env = os.environ | {
        "FEEDPULSE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "FEEDPULSE_KAFKA__TOPIC": settings.kafka.topic,
        "FEEDPULSE_KAFKA__DLQ_TOPIC": settings.kafka.dlq_topic,
        "FEEDPULSE_KAFKA__GROUP_ID": settings.kafka.group_id,
        "FEEDPULSE_INDEX__SNAPSHOT_DIR": str(snapshot_dir),
        "FEEDPULSE_INDEX__SNAPSHOT_INTERVAL_S": "1",
        "FEEDPULSE_INGEST__BATCH_MAX_WAIT_MS": "50",
        "FEEDPULSE_EMBEDDER__CACHE_DIR": str(CACHE / "models"),
    }
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "serve.cli", "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def newest_offsets(snapshot_dir: Path) -> dict[int, int]:
    for path in snapshots(snapshot_dir):
        try:
            return read_snapshot(path).offsets
        except Exception:  # a snapshot being pruned or torn: the next one
            continue
    return {}


def end_offsets(settings: Settings) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        parts = [TopicPartition(settings.kafka.topic, p) for p in range(settings.kafka.partitions)]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def committed_offsets(settings: Settings) -> dict[int, int | None]:
    """The group's committed offsets (read without joining it): ingest commits only what it indexed."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=settings.kafka.group_id,
        enable_auto_commit=False,
    )
    try:
        parts = [TopicPartition(settings.kafka.topic, p) for p in range(settings.kafka.partitions)]
        return {tp.partition: consumer.committed(tp) for tp in parts}
    finally:
        consumer.close()
