"""Detects a consumer that has stopped reading while its index is behind the topic.

A consumer can end up reading nothing although records wait: kafka-python
3.0 has been seen to stop fetching (dpkp/kafka-python#3106 was one such bug),
and nothing raises; the worker just sits idle. The watch notices "behind,
yet nothing polled" lasting ``limit_s`` so the worker can log what it saw
and reconnect with a fresh consumer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class StallWatch:
    """Fed once per consumer loop; says when the consumer has been stalled for ``limit_s``."""

    limit_s: float
    _stalled_since: float | None = None

    def observe(self, now: float, *, polled: int, behind: bool) -> bool:
        """Record one loop: ``polled`` records arrived; ``behind`` whether the index lags the topic."""
        if polled or not behind:
            self._stalled_since = None
            return False
        if self._stalled_since is None:
            self._stalled_since = now
        return now - self._stalled_since >= self.limit_s

    def stalled_for(self, now: float) -> float:
        return 0.0 if self._stalled_since is None else now - self._stalled_since


def index_behind(end_offsets: dict[int, int], applied_offsets: dict[int, int]) -> bool:
    """Whether some partition has records past the offset the index has applied."""
    return any(end > applied_offsets.get(partition, 0) for partition, end in end_offsets.items())
