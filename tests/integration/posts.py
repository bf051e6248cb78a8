"""Real CrisisLexT6 posts for integration tests: a cluster about one event, plus noise."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from ingest.crisislex import Tweet, event_files, read_event


def as_post(tweet: Tweet, created_ms: int) -> dict:
    return {
        "id": tweet.id,
        "text": tweet.text,
        "author": "crisislex",
        "created_at": datetime.fromtimestamp(created_ms / 1000, tz=UTC).isoformat(),
        "url": f"https://twitter.com/i/web/status/{tweet.id}",
    }


def event(data_dir: Path, name: str) -> list[Tweet]:
    return read_event(next(path for path in event_files([data_dir]) if name in path.name))


def cluster_and_noise(
    data_dir: Path, cluster_size: int = 20, noise_size: int = 150
) -> tuple[list[dict], list[dict]]:
    """Boston on-topic posts about the explosions, and Alberta off-topic chatter, all from the last hour."""
    now_ms = int(time.time() * 1000)
    boston = [
        t
        for t in event(data_dir, "Boston")
        if t.on_topic and "explosion" in t.text.lower() and not t.text.startswith("RT")
    ]
    alberta = [t for t in event(data_dir, "Alberta") if not t.on_topic]
    cluster = [as_post(t, now_ms - 60_000 * (i % 50)) for i, t in enumerate(boston[:cluster_size])]
    noise = [as_post(t, now_ms - 60_000 * (i % 50)) for i, t in enumerate(alberta[:noise_size])]
    return cluster, noise
