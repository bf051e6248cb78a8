"""The stories' file in a snapshot: ``stories.json``, written and read with the index.

Per post: its story, bucket, author, repost key and terms; per story: id, first and
last seen, first post per repost key, and its vector sum as a length (float32) and a
direction (base64 float16: half the size, ~1e-3 off in cosine); the merge aliases; the
tracker's clock. Everything else is
rebuilt from these. A file of another format or dimension is not an error: the index
is restored and stories start empty (logged).
"""

from __future__ import annotations

import base64
import json
import logging

import numpy as np

from index.errors import SnapshotError
from index.stories import PostEntry, StoryTracker

log = logging.getLogger(__name__)
FORMAT = 2


def encode(tracker: StoryTracker) -> bytes:
    """The tracker's state as bytes (under its lock, so consistent)."""
    with tracker.lock:
        stories = list(tracker.stories.values())
        sums = np.stack([tracker.vector_sum(s) for s in stories]) if stories else np.zeros((0, tracker.dim))
        body = {
            "format": FORMAT,
            "dim": tracker.dim,
            "now": tracker.now,
            "stories": [[s.id, s.first_seen, s.last_seen, s.key_post] for s in stories],
            **_pack(sums),
            "posts": [
                [post_id, e.story, e.bucket, e.author, e.key, list(e.terms)]
                for post_id, e in tracker.posts.items()
            ],
            "aliases": tracker.aliases,
        }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def decode_into(tracker: StoryTracker, blob: bytes | None) -> None:
    """Replace the tracker's state with ``blob`` (None: an empty tracker, e.g. an older snapshot).

    Raises:
        SnapshotError: the blob is not a stories file this version can read.
    """
    empty = np.zeros((0, tracker.dim), np.float32)
    if blob is None:
        tracker.rebuild(0.0, [], empty, [], {})
        return
    try:
        body = json.loads(blob)
        if body["format"] != FORMAT or body["dim"] != tracker.dim:
            log.warning(
                "stories format %s, dim %s not readable here: stories start empty",
                body["format"],
                body["dim"],
            )
            tracker.rebuild(0.0, [], empty, [], {})
            return
        sums = _unpack(body, tracker.dim)
        stories = [(str(i), float(f), float(last), dict(kp)) for i, f, last, kp in body["stories"]]
        entries = [
            (str(pid), PostEntry(str(sid), int(bucket), str(author), key, tuple(terms)))
            for pid, sid, bucket, author, key, terms in body["posts"]
        ]
        known = {sid for sid, *_ in stories}
        if len(sums) != len(stories) or any(entry.story not in known for _, entry in entries):
            raise SnapshotError("stories file is inconsistent")
        tracker.rebuild(float(body["now"]), stories, sums, entries, dict(body["aliases"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"invalid stories file: {exc}") from exc


class StoriesPart:
    """The tracker as a snapshot part (``index.snapshot.SnapshotPart``)."""

    name = "stories.json"

    def __init__(self, tracker: StoryTracker) -> None:
        self.tracker = tracker

    def export(self) -> bytes:
        return encode(self.tracker)

    def restore(self, blob: bytes | None) -> None:
        decode_into(self.tracker, blob)


def _pack(sums: np.ndarray) -> dict:
    norms = np.linalg.norm(sums, axis=1) if len(sums) else np.zeros(0)
    directions = sums / np.maximum(norms, 1e-12)[:, None]
    return {
        "norms": [float(n) for n in norms],
        "directions": base64.b64encode(np.ascontiguousarray(directions, np.float16).tobytes()).decode(),
    }


def _unpack(body: dict, dim: int) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(body["directions"]), dtype=np.float16)
    directions = raw.astype(np.float32).reshape(-1, dim)
    return directions * np.asarray(body["norms"], np.float32)[:, None]
