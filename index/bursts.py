"""Burst scores: volume in a window against a decaying baseline of the same series.

A series is sparse: bucket number → posts. The baseline is an exponentially
weighted moving average of the buckets before the window, started at zero, so a
series that did not exist before has a baseline of zero. The score is a
Poisson-style z-score, ``(volume - expected) / sqrt(expected + prior)``: a sudden
rise scores high, a large but steady volume scores about zero, a series falling
after its burst scores below zero (it has cooled down).
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def baseline_rate(series: Mapping[int, int], before: int, half_life_buckets: float) -> float:
    """EWMA of posts per bucket over the buckets before ``before`` (zero before the first)."""
    decay = 0.5 ** (1.0 / half_life_buckets)
    weighted = sum(count * decay ** (before - 1 - b) for b, count in series.items() if b < before)
    return (1.0 - decay) * weighted


def window_volume(series: Mapping[int, int], first: int, last: int) -> int:
    """Posts in buckets ``first`` … ``last`` (inclusive)."""
    if last - first + 1 < len(series):
        return sum(series.get(b, 0) for b in range(first, last + 1))
    return sum(count for b, count in series.items() if first <= b <= last)


def burst_score(volume: float, expected: float, prior: float) -> float:
    """How far ``volume`` rises above ``expected``, in Poisson standard deviations."""
    return (volume - expected) / math.sqrt(expected + prior)


def score_series(
    series: Mapping[int, int], first: int, last: int, half_life_buckets: float, prior: float
) -> tuple[float, int]:
    """(score, volume) of a series over the window of buckets ``first`` … ``last``."""
    volume = window_volume(series, first, last)
    expected = baseline_rate(series, first, half_life_buckets) * (last - first + 1)
    return burst_score(volume, expected, prior), volume
