"""The stories that still take posts by similarity, their centroids packed for one matrix product."""

from __future__ import annotations

import numpy as np


class LiveSet:
    """Story ids with a contiguous matrix of their centroids; add, update and remove are O(1)."""

    def __init__(self, dim: int) -> None:
        self.ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._matrix = np.zeros((256, dim), dtype=np.float32)

    def __contains__(self, sid: str) -> bool:
        return sid in self._pos

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def matrix(self) -> np.ndarray:
        """Centroids, one row per id in ``ids`` (a view: valid until the next change)."""
        return self._matrix[: len(self.ids)]

    def put(self, sid: str, centroid: np.ndarray) -> None:
        """Add the story, or update its centroid."""
        pos = self._pos.get(sid)
        if pos is None:
            pos = len(self.ids)
            if pos == len(self._matrix):
                self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
            self.ids.append(sid)
            self._pos[sid] = pos
        self._matrix[pos] = centroid

    def remove(self, sid: str) -> None:
        """Drop the story (the last one moves into its place)."""
        pos = self._pos.pop(sid, None)
        if pos is None:
            return
        last = len(self.ids) - 1
        if pos != last:
            moved = self.ids[last]
            self.ids[pos] = moved
            self._pos[moved] = pos
            self._matrix[pos] = self._matrix[last]
        self.ids.pop()

    def clear(self) -> None:
        self.ids.clear()
        self._pos.clear()
