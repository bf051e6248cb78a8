"""Citations: map ``[n]`` markers to retrieved posts, and attribute unmarked sentences.

A small base model rarely writes markers, so a sentence without one is credited
to the retrieved posts that support it: posts that share enough content words
with it, or whose embedding is close to the sentence's (when the caller passes
sentence-to-post similarities). Such citations are marked ``inferred``.

The question's own words are not evidence. Every retrieved post matches the
question, so a post that shares only the question's words with a sentence
(a hostile post that names the topic and then gives orders, say) supports
nothing. Shared words and similarities are measured on what is left of the
sentence and of the post once the question's content words are taken out
(``given_words``, ``evidence_similarity``); a sentence that only restates the
question has nothing left to attribute.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.records import SearchHit
from rag.text import LINK_REMOVED, content_words, split_sentences, without_words

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
MIN_SHARED_WORDS = 2
MIN_SHARED_FRACTION = 0.5
MAX_INFERRED_PER_SENTENCE = 3
# Cosine similarity (all-MiniLM-L6-v2) above which a post supports a sentence. On
# CrisisLex, a paraphrase of a post scores ~0.5-0.7, a sentence on another topic < 0.2.
MIN_SIMILARITY = 0.5


SimilarityFn = Callable[[Sequence[str]], np.ndarray]
EmbedFn = Callable[[Sequence[str]], np.ndarray]


def given_words(question: str) -> frozenset[str]:
    """Content words the question brought: every retrieved post has them, so they prove nothing."""
    return frozenset(content_words(question))


def evidence_similarity(embed: EmbedFn, posts: Sequence[str], given: frozenset[str]) -> SimilarityFn:
    """Sentences -> (sentences, posts) cosine matrix, both sides without the question's words.

    ``embed`` returns L2-normalised rows, so a dot product is the cosine.
    """

    def similarity(sentences: Sequence[str]) -> np.ndarray:
        texts = [without_words(text, given) for text in (*sentences, *posts)]
        vectors = embed(texts)
        return vectors[: len(sentences)] @ vectors[len(sentences) :].T

    return similarity


@dataclass(slots=True, frozen=True)
class Citation:
    """A retrieved post an answer relies on; ``number`` is its 1-based place in the prompt."""

    number: int
    hit: SearchHit
    inferred: bool


def attribute(
    answer: str,
    hits: Sequence[SearchHit],
    similarity: SimilarityFn | None = None,
    given: frozenset[str] = frozenset(),
) -> list[Citation]:
    """Citations for an answer: explicit markers first, then inferred support, no repeats.

    Args:
        similarity: maps sentences to a (sentences, hits) matrix of cosine
            similarities; without it, support is judged by shared words alone.
        given: the question's content words (``given_words``), which support nothing.
    """
    sentences = split_sentences(answer)
    similarities = similarity(sentences) if similarity and sentences else None
    cited: dict[int, Citation] = {}
    for row, sentence in enumerate(sentences):
        numbers = marker_numbers(sentence, len(hits))
        inferred = not numbers
        if inferred:
            row_similarities = None if similarities is None else similarities[row]
            numbers = supporting_posts(sentence, hits, row_similarities, given)
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
    sentence: str,
    hits: Sequence[SearchHit],
    similarities: np.ndarray | None = None,
    given: frozenset[str] = frozenset(),
) -> list[int]:
    """Posts sharing enough content words with the sentence, or close in meaning, best first.

    Words in ``given`` count for nothing, and a post with nothing but them supports nothing.
    """
    words = content_words(_MARKER.sub(" ", sentence).replace(LINK_REMOVED, " ")) - given
    if not words:
        return []
    scored = []
    for number, hit in enumerate(hits, start=1):
        own = content_words(hit.post.text) - given
        if not own:
            continue
        shared = len(words & own)
        lexical = shared >= min(MIN_SHARED_WORDS, len(words)) and shared / len(words) >= MIN_SHARED_FRACTION
        cosine = float(similarities[number - 1]) if similarities is not None else 0.0
        if lexical or cosine >= MIN_SIMILARITY:
            scored.append((cosine, shared, number))
    scored.sort(reverse=True)
    return [number for _, _, number in scored[:MAX_INFERRED_PER_SENTENCE]]
