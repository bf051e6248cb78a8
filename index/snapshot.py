"""Snapshots: the FAISS index, post metadata and applied offsets, written together atomically.

Layout: ``<root>/snap-<ms>/{segment-<first>.faiss, posts-<first>.jsonl…, deletes.json, manifest.json}``:
a FAISS file and a posts file per time segment of the store (``index/segments.py``,
named by the segment's first slot). A sealed segment rarely changes, so its files
are hard-linked from the previous snapshot while its tag is the same: a snapshot
writes what changed. (A linked file is one copy on disk: if it rots, every
snapshot that holds it fails its checksum, and recovery replays from Kafka.) A
snapshot is written into a temporary folder, fsynced, renamed into place and
the root fsynced; its manifest holds a SHA-256 per file, so a torn or corrupted
snapshot is detected on load and skipped for the previous one.

Parts (``SnapshotPart``, e.g. the stories of ``index.story_state``) add their own
file, exported after the store's state and listed with its checksum in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

import numpy as np

from index.errors import SnapshotError
from index.records import PostRecord
from index.store import PostStore, SegmentState, StoreState

log = logging.getLogger(__name__)
PREFIX = "snap-"
# 2 added deletes.json; 3 split vectors.faiss and posts.jsonl into segment files. 1 and 2 still load.
FORMAT_VERSION = 3


class SnapshotPart(Protocol):
    """State kept beside the index in each snapshot, in a file of its own."""

    name: str  # its file name in the snapshot

    def export(self) -> bytes: ...

    def restore(self, blob: bytes | None) -> None: ...  # None: the snapshot has no such file


def write_snapshot(
    store: PostStore,
    root: Path,
    keep: int = 3,
    parts: Sequence[SnapshotPart] = (),
    reuse: Path | None = None,
) -> Path:
    """Persist the store under ``root``; keep the newest ``keep`` snapshots.

    ``reuse`` is a snapshot this writer wrote before: segments unchanged since (same
    tag) are hard-linked from it instead of being serialised and written again, so
    a snapshot costs what changed (mostly the writable segment), not the whole index.

    Raises:
        SnapshotError: when the snapshot cannot be written.
    """
    previous = _segment_entries(reuse)
    try:
        return _write(store, root, keep, parts, previous, reuse)
    except _ReuseFailed as exc:
        log.warning("cannot reuse segment files of %s (%s); writing every segment", reuse, exc)
        return _write(store, root, keep, parts, {}, None)


class _ReuseFailed(Exception):
    """A segment file of the previous snapshot could not be linked."""


def _write(
    store: PostStore,
    root: Path,
    keep: int,
    parts: Sequence[SnapshotPart],
    previous: dict[str, dict],
    reuse: Path | None,
) -> Path:
    state = store.export_state(have=previous.keys())
    root.mkdir(parents=True, exist_ok=True)
    temp = root / f".tmp-{uuid.uuid4().hex}"
    final = root / f"{PREFIX}{time.time_ns() // 1_000_000:015d}"
    try:
        temp.mkdir()
        files: dict[str, bytes] = {}
        sha256: dict[str, str] = {}
        entries = []
        for segment in state.segments:
            if segment.exported:
                entry = _segment_entry(segment)
                files[entry["index"]] = segment.index_bytes.tobytes()
                files[entry["posts_file"]] = _records_jsonl(segment.records, segment.first)
            else:
                entry = previous[segment.tag]
                sha256.update(_link(reuse, temp, entry))
            entries.append(entry)
        files["deletes.json"] = json.dumps(state.deleted).encode()
        files.update({part.name: part.export() for part in parts})  # after the store: never behind it
        sha256.update({name: hashlib.sha256(data).hexdigest() for name, data in files.items()})
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": time.time(),
            "posts": sum(entry["posts"] for entry in entries),
            "slots": entries[-1]["end"] if entries else 0,
            "segments": entries,
            "offsets": {str(p): o for p, o in state.offsets.items()},
            "sha256": sha256,
        }
        files["manifest.json"] = json.dumps(manifest, indent=1).encode()
        for name, data in files.items():
            _write_synced(temp / name, data)
        _fsync_dir(temp)
        temp.rename(final)
        _fsync_dir(root)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise SnapshotError(f"cannot write snapshot under {root}: {exc}") from exc
    except _ReuseFailed:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    _prune(root, keep)
    return final


def _segment_entry(segment: SegmentState) -> dict:
    """How the manifest lists an exported segment (its files are named by its first slot)."""
    return {
        "first": segment.first,
        "end": segment.end,
        "capacity": segment.capacity,
        "tag": segment.tag,
        "posts": sum(record is not None for record in segment.records or ()),
        "index": f"segment-{segment.first:015d}.faiss",
        "posts_file": f"posts-{segment.first:015d}.jsonl",
    }


def _segment_entries(path: Path | None) -> dict[str, dict]:
    """tag -> manifest entry (with its files' checksums) of each segment in a snapshot; {} if unreadable."""
    if path is None:
        return {}
    try:
        manifest = json.loads((path / "manifest.json").read_bytes())
        return {
            entry["tag"]: {**entry, "sha256": {name: manifest["sha256"][name] for name in _files(entry)}}
            for entry in manifest.get("segments", ())
            if entry.get("tag")
        }
    except (OSError, ValueError, KeyError) as exc:
        log.warning("cannot read %s to reuse its segments: %s", path, exc)
        return {}


def _files(entry: dict) -> tuple[str, str]:
    return entry["index"], entry["posts_file"]


def _link(source: Path | None, target: Path, entry: dict) -> dict[str, str]:
    """Hard-link a reused segment's files into ``target``; returns their checksums."""
    try:
        for name in _files(entry):
            os.link(source / name, target / name)  # type: ignore[operator]  # source is set when reusing
    except (OSError, TypeError) as exc:
        raise _ReuseFailed(str(exc)) from exc
    return entry.pop("sha256")


def snapshots(root: Path) -> list[Path]:
    """Complete snapshot folders under root, newest first."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.name.startswith(PREFIX)), reverse=True)


def read_snapshot(path: Path) -> StoreState:
    """Load and verify one snapshot.

    Raises:
        SnapshotError: missing file, checksum mismatch or unreadable content.
    """
    try:
        manifest = json.loads((path / "manifest.json").read_bytes())
        blobs = {name: (path / name).read_bytes() for name in manifest["sha256"]}
    except (OSError, ValueError, KeyError) as exc:
        raise SnapshotError(f"unreadable: {exc}") from exc
    for name, digest in manifest["sha256"].items():
        if hashlib.sha256(blobs[name]).hexdigest() != digest:
            raise SnapshotError(f"{name} does not match its checksum")
    try:
        return StoreState(
            segments=_segments(manifest, blobs),
            offsets={int(p): int(o) for p, o in manifest["offsets"].items()},
            deleted={str(k): float(v) for k, v in json.loads(blobs.get("deletes.json", b"{}")).items()},
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"invalid content: {exc}") from exc


def read_offsets(path: Path) -> dict[int, int]:
    """The partition offsets a written snapshot covers (from its manifest)."""
    manifest = json.loads((path / "manifest.json").read_bytes())
    return {int(p): int(o) for p, o in manifest["offsets"].items()}


def restore_latest(store: PostStore, root: Path, parts: Sequence[SnapshotPart] = ()) -> Path | None:
    """Load the newest verifying snapshot into ``store`` and ``parts``; returns its path, or None."""
    for path in snapshots(root):
        try:
            state = read_snapshot(path)
            for part in parts:
                part.restore(_read_part(path, part.name))
            store.restore(state)
            return path
        except (SnapshotError, ValueError, RuntimeError) as exc:
            log.warning("skipping snapshot %s: %s", path.name, exc)
    for part in parts:
        part.restore(None)
    return None


def _read_part(path: Path, name: str) -> bytes | None:
    """A part's verified file, or None when the snapshot was written without it."""
    try:
        digest = json.loads((path / "manifest.json").read_bytes())["sha256"].get(name)
        blob = None if digest is None else (path / name).read_bytes()
    except (OSError, ValueError, KeyError) as exc:
        raise SnapshotError(f"unreadable {name}: {exc}") from exc
    if blob is not None and hashlib.sha256(blob).hexdigest() != digest:
        raise SnapshotError(f"{name} does not match its checksum")
    return blob


def _segments(manifest: dict, blobs: dict[str, bytes]) -> list[SegmentState]:
    """The segments a manifest lists; a format 1 or 2 snapshot's single index is one sealed segment."""
    records = _parse_records(blob for name, blob in blobs.items() if name.startswith("posts"))
    if "segments" not in manifest:
        slots = int(manifest["slots"])
        entries = [{"first": 0, "end": slots, "capacity": slots, "index": "vectors.faiss"}] if slots else []
    else:
        entries = manifest["segments"]
    return [
        SegmentState(
            first=int(entry["first"]),
            end=int(entry["end"]),
            capacity=int(entry["capacity"]),
            tag=str(entry.get("tag", "")),
            index_bytes=np.frombuffer(blobs[entry["index"]], dtype=np.uint8),
            records=[records.pop(slot, None) for slot in range(int(entry["first"]), int(entry["end"]))],
        )
        for entry in entries
    ]


def _records_jsonl(records: list[PostRecord | None] | None, first: int) -> bytes:
    lines = [
        json.dumps({"slot": first + row, **asdict(record)}, ensure_ascii=False)
        for row, record in enumerate(records or ())
        if record is not None
    ]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _parse_records(blobs: Iterable[bytes]) -> dict[int, PostRecord]:
    """slot -> record, from every posts file of a snapshot."""
    records = {}
    for blob in blobs:
        for line in blob.decode().splitlines():
            fields = json.loads(line)
            slot = fields.pop("slot")
            records[slot] = PostRecord(**fields)
    return records


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(root: Path, keep: int) -> None:
    for old in snapshots(root)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    for temp in root.glob(".tmp-*"):
        if time.time() - temp.stat().st_mtime > 300:
            shutil.rmtree(temp, ignore_errors=True)


class SnapshotScheduler:
    """Writes a snapshot every ``interval_s`` or ``every_records`` records, whichever comes first.

    ``durable_offsets`` are the offsets the newest snapshot on disk covers: what a
    crash right now would resume from, hence what may be committed to Kafka.
    """

    def __init__(
        self,
        store: PostStore,
        root: Path,
        interval_s: float,
        keep: int = 3,
        every_records: int = 50_000,
        parts: Sequence[SnapshotPart] = (),
    ) -> None:
        self._store = store
        self._parts = parts
        self._root = root
        self._interval_s = interval_s
        self._every_records = every_records
        self._keep = keep
        self._last = time.monotonic()
        self._pending = 0  # records applied since the last snapshot
        self._dirty = False
        self._durable: dict[int, int] = dict(store.stats().applied_offsets)  # restored or empty
        self._written: Path | None = None  # the last snapshot this scheduler wrote (its segments are reused)
        self._lock = threading.Lock()  # the index stage and the consumer loop both call in

    def after_batch(self, records: int = 1) -> None:
        """Count a batch applied to the store; snapshot if it is due."""
        with self._lock:
            self._dirty = True
            self._pending += records
        self.maybe_write()

    def maybe_write(self) -> Path | None:
        """Snapshot if changed and due (call when idle, so the last batch of a burst is covered)."""
        due = self._pending >= self._every_records or time.monotonic() - self._last >= self._interval_s
        return self.write_now() if due else None

    def write_now(self) -> Path | None:
        """Write a snapshot if anything changed since the last one."""
        with self._lock:
            if not self._dirty:
                return None
            path = write_snapshot(self._store, self._root, self._keep, self._parts, reuse=self._written)
            self._written = path
            self._durable = read_offsets(path)
            self._last, self._dirty, self._pending = time.monotonic(), False, 0
        log.info("snapshot %s (%d posts)", path.name, len(self._store))
        return path

    def durable_offsets(self) -> dict[int, int]:
        return dict(self._durable)


class SnapshotFollower:
    """Keeps a read-only store on the newest snapshot another process writes.

    ``with SnapshotFollower(...)`` polls in a thread every ``interval_s``.
    """

    def __init__(
        self, store: PostStore, root: Path, interval_s: float, parts: Sequence[SnapshotPart] = ()
    ) -> None:
        self._store = store
        self._parts = parts
        self._root = root
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="feedpulse-snapshots", daemon=True)
        self.loaded: Path | None = None

    def __enter__(self) -> SnapshotFollower:
        self.refresh()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def refresh(self) -> bool:
        """Load the newest snapshot if it is newer than the one loaded; True when it loaded."""
        newest = next(iter(snapshots(self._root)), None)
        if newest is None or newest == self.loaded:
            return False
        loaded = restore_latest(self._store, self._root, self._parts)
        changed = loaded is not None and loaded != self.loaded
        self.loaded = loaded or self.loaded
        return changed

    def status(self) -> tuple[bool, str]:
        """Ready once a snapshot is loaded; the message names it or says where none was found."""
        if self.loaded is None:
            return False, f"no snapshot yet in {self._root}"
        return True, f"snapshot {self.loaded.name}"

    def _follow(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.refresh()
            except Exception:  # a bad snapshot must not kill the follower
                log.exception("snapshot refresh failed")
