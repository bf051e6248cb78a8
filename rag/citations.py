"""Citations: map ``[n]`` markers to retrieved posts, and attribute unmarked sentences.

A small base model rarely writes markers, so a sentence without one is credited
to the retrieved posts that support it: posts that share enough content words
with it, or whose embedding is close to the sentence's (when the caller passes
sentence-to-post similarities). Such citations are marked ``inferred``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.records import SearchHit
from rag.text import content_words, split_sentences

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
MIN_SHARED_WORDS = 2
MIN_SHARED_FRACTION = 0.5
MAX_INFERRED_PER_SENTENCE = 3
# Cosine similarity (all-MiniLM-L6-v2) above which a post supports a sentence. On
# CrisisLex, a paraphrase of a post scores ~0.5-0.7, a sentence on another topic < 0.2.
MIN_SIMILARITY = 0.5
# An inferred citation names the posts that best support the sentence: one whose
# similarity is this far under the best supporter's adds nothing but a chance to
# vouch for a post that only shares the sentence's topic words.
CREDIT_MARGIN = 0.1


SimilarityFn = Callable[[Sequence[str]], np.ndarray]


@dataclass(slots=True, frozen=True)
class Citation:
    """A retrieved post an answer relies on; ``number`` is its 1-based place in the prompt."""

    number: int
    hit: SearchHit
    inferred: bool


def attribute(
    answer: str, hits: Sequence[SearchHit], similarity: SimilarityFn | None = None
) -> list[Citation]:
    """Citations for an answer: explicit markers first, then inferred support, no repeats.

    Args:
        similarity: maps sentences to a (sentences, hits) matrix of cosine
            similarities; without it, support is judged by shared words alone.
    """
    sentences = split_sentences(answer)
    similarities = similarity(sentences) if similarity and sentences else None
    cited: dict[int, Citation] = {}
    for row, sentence in enumerate(sentences):
        numbers = marker_numbers(sentence, len(hits))
        inferred = not numbers
        if inferred:
            numbers = supporting_posts(sentence, hits, None if similarities is None else similarities[row])
        for number in numbers:
            if number not in cited or (cited[number].inferred and not inferred):
                cited[number] = Citation(number, hits[number - 1], inferred)
    return sorted(cited.values(), key=lambda c: (c.inferred, c.number))


def marker_numbers(sentence: str, post_count: int) -> list[int]:
    """``[n]`` and ``[n, m]`` markers that name a retrieved post (1..post_count)."""
    numbers = []
    for group in _MARKER.findall(sentence):
        for raw in group.split(","):
            number = int(raw)
            if 1 <= number <= post_count and number not in numbers:
                numbers.append(number)
    return numbers


def supporting_posts(
    sentence: str, hits: Sequence[SearchHit], similarities: np.ndarray | None = None
) -> list[int]:
    """Posts sharing enough content words with the sentence, or close in meaning, best first.

    With similarities, only posts within ``CREDIT_MARGIN`` of the closest supporter count.
    """
    words = content_words(_MARKER.sub(" ", sentence))
    scored = []
    for number, hit in enumerate(hits, start=1):
        shared = len(words & content_words(hit.post.text))
        lexical = shared >= MIN_SHARED_WORDS and shared / max(len(words), 1) >= MIN_SHARED_FRACTION
        cosine = float(similarities[number - 1]) if similarities is not None else 0.0
        if lexical or cosine >= MIN_SIMILARITY:
            scored.append((cosine, shared, number))
    scored.sort(reverse=True)
    if similarities is not None and scored:
        scored = [entry for entry in scored if entry[0] >= scored[0][0] - CREDIT_MARGIN]
    return [number for _, _, number in scored[:MAX_INFERRED_PER_SENTENCE]]
