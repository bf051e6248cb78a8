"""Citations: map ``[n]`` markers to retrieved posts, and attribute unmarked sentences.

A small base model rarely writes markers, so a sentence without one is credited
to the retrieved posts that share enough content words with it; such citations
are marked ``inferred``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.records import SearchHit
from rag.text import content_words

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MIN_SHARED_WORDS = 2
MIN_SHARED_FRACTION = 0.3
MAX_INFERRED_PER_SENTENCE = 3


@dataclass(slots=True, frozen=True)
class Citation:
    """A retrieved post an answer relies on; ``number`` is its 1-based place in the prompt."""

    number: int
    hit: SearchHit
    inferred: bool


def attribute(answer: str, hits: Sequence[SearchHit]) -> list[Citation]:
    """Citations for an answer: explicit markers first, then inferred support, no repeats."""
    cited: dict[int, Citation] = {}
    for sentence in split_sentences(answer):
        numbers = marker_numbers(sentence, len(hits))
        inferred = not numbers
        if inferred:
            numbers = supporting_posts(sentence, hits)
        for number in numbers:
            if number not in cited or (cited[number].inferred and not inferred):
                cited[number] = Citation(number, hits[number - 1], inferred)
    return sorted(cited.values(), key=lambda c: (c.inferred, c.number))


def split_sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def marker_numbers(sentence: str, post_count: int) -> list[int]:
    """``[n]`` and ``[n, m]`` markers that name a retrieved post (1..post_count)."""
    numbers = []
    for group in _MARKER.findall(sentence):
        for raw in group.split(","):
            number = int(raw)
            if 1 <= number <= post_count and number not in numbers:
                numbers.append(number)
    return numbers


def supporting_posts(sentence: str, hits: Sequence[SearchHit]) -> list[int]:
    """Posts sharing enough content words with the sentence, best first."""
    words = content_words(_MARKER.sub(" ", sentence))
    if not words:
        return []
    scored = []
    for number, hit in enumerate(hits, start=1):
        shared = len(words & content_words(hit.post.text))
        if shared >= MIN_SHARED_WORDS and shared / len(words) >= MIN_SHARED_FRACTION:
            scored.append((shared, hit.score, number))
    scored.sort(reverse=True)
    return [number for _, _, number in scored[:MAX_INFERRED_PER_SENTENCE]]
