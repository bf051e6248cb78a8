"""Adaptive micro-batching: a batch closes as soon as the next stage is idle, else at
``max_posts`` or ``max_wait`` after its first post, whichever comes first.

A quiet stream finds the embedder idle, so each post goes on at once (latency is
one small forward pass); under load the batch grows while the embedder works on
the previous one (throughput), bounded by ``max_posts`` and ``max_wait``, like
dynamic batching in inference servers. Shutdown closes the batch in hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

Item = TypeVar("Item")
# How long one poll waits while no batch is open: bounds how late a stop is noticed.
IDLE_POLL_S = 0.2


@dataclass(slots=True, frozen=True)
class BatchPolicy:
    """When an open batch closes."""

    max_posts: int
    max_wait_s: float

    def room(self, count: int) -> int:
        return max(0, self.max_posts - count)

    def poll_timeout_s(self, opened_at: float | None, now: float) -> float:
        """How long the next poll may block: idle, or until the open batch's deadline.

        Polls return as soon as records arrive, so a busy stream re-checks the next
        stage often without spinning; a quiet one waits at most the deadline.
        """
        if opened_at is None:
            return IDLE_POLL_S
        return max(0.0, opened_at + self.max_wait_s - now)

    def closed(self, count: int, opened_at: float | None, now: float, next_stage_idle: bool = False) -> bool:
        if count >= self.max_posts or (count and next_stage_idle):
            return True
        return opened_at is not None and now >= opened_at + self.max_wait_s


def collect_batch(
    poll: Callable[[float, int], list[Item]],
    policy: BatchPolicy,
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
    next_stage_idle: Callable[[], bool] = lambda: False,
) -> list[Item]:
    """Poll until the policy closes the batch, the stream goes idle, or ``stop`` is set.

    Args:
        poll: ``poll(timeout_s, max_items)`` returns what arrived (possibly nothing).
        next_stage_idle: whether the consumer of the batch could start on it right now.
    """
    items: list[Item] = []
    opened_at: float | None = None
    while not stop.is_set():
        arrived = poll(policy.poll_timeout_s(opened_at, clock()), policy.room(len(items)))
        items.extend(arrived)
        if items and opened_at is None:
            opened_at = clock()
        if not items or policy.closed(len(items), opened_at, clock(), next_stage_idle()):
            break
    return items
