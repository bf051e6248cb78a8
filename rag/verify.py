"""Citation verification: an answer cites only retrieved posts that are still live and say what it quotes.

Checked per sentence, at the moment the citations are built:

* a ``[n]`` marker must name a post of the prompt (1..len(hits)), else ``not_retrieved``;
* that post must still be in the index (a delete between retrieval and answer
  removes it), else ``not_live``;
* text the sentence quotes ("..." or “...”) must appear in the cited post, else
  ``quote_not_in_post``;
* with defences on, the post must not be one that injection screening flagged,
  else ``flagged_post``.

Every removed citation is reported. A sentence left without a valid citation is
attributed to the live retrieved posts that support it (shared content words or
embedding similarity, ``rag/citations.py``; ``inferred``), or listed as unsupported.
Flagged posts never support a sentence: one that only they support is listed in
``flagged_support`` (the output guard, ``rag/guard.py``, drops it). Posts the
injection probe doubts (``uncredited``) are not credited by inference either:
feedpulse does not vouch for them, though a marker the model wrote may cite them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.records import PostRecord, SearchHit
from rag.citations import Citation, SimilarityFn, supporting_posts
from rag.text import split_sentences

_MARKER = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
_QUOTE = re.compile(r"\"([^\"]{3,})\"|“([^”]{3,})”")
_SPACE = re.compile(r"\s+")

LiveFn = Callable[[str], PostRecord | None]


@dataclass(slots=True, frozen=True)
class UnsupportedCitation:
    """A citation the model wrote that verification removed, and why."""

    sentence: str
    reason: str  # not_retrieved | not_live | quote_not_in_post | flagged_post
    number: int
    post_id: str | None  # None when the number names no retrieved post


@dataclass(slots=True, frozen=True)
class Verification:
    """Citations that passed and removed; sentences nothing supports, and those only flagged posts do."""

    citations: list[Citation]
    unsupported_citations: list[UnsupportedCitation]
    unsupported_sentences: list[str]
    flagged_support: list[str] = field(default_factory=list)


def verify(
    answer: str,
    hits: Sequence[SearchHit],
    live: LiveFn,
    similarity: SimilarityFn | None = None,
    untrusted: Collection[str] = (),
    uncredited: Collection[str] = (),
) -> Verification:
    """Check every citation of ``answer`` against ``hits`` and the index (``live(post_id)``).

    Args:
        live: the post as the index holds it now, or None once deleted.
        similarity: sentences -> (sentences, hits) cosine matrix, for inferred support.
        untrusted: ids of posts injection screening flagged: never cited.
        uncredited: ids of posts never cited by inferred attribution (the probe doubts
            them, ``Retrieval.doubtful``); a marker the model wrote may still cite them.
    """
    sentences = split_sentences(answer)
    current = [live(hit.post.post_id) for hit in hits]
    live_hits = [
        SearchHit(post, hit.score) if post else None for post, hit in zip(current, hits, strict=True)
    ]
    trusted = [None if hit and hit.post.post_id in untrusted else hit for hit in live_hits]
    creditable = [None if hit and hit.post.post_id in uncredited else hit for hit in trusted]
    flagged = [hit if hit and hit.post.post_id in untrusted else None for hit in live_hits]
    matrix = similarity(sentences) if similarity and sentences else None
    cited: dict[int, Citation] = {}
    removed: list[UnsupportedCitation] = []
    unsupported: list[str] = []
    flagged_only: list[str] = []
    for row, sentence in enumerate(sentences):
        quotes = _quotes(sentence)
        explicit = []
        for number in _numbers(sentence):
            reason = _check(number, live_hits, quotes)
            if reason is None and flagged[number - 1] is not None:
                reason = "flagged_post"
            if reason:
                post_id = hits[number - 1].post.post_id if 1 <= number <= len(hits) else None
                removed.append(UnsupportedCitation(sentence, reason, number, post_id))
            else:
                explicit.append(number)
        for number in explicit:
            cited[number] = Citation(number, live_hits[number - 1], inferred=False)
        if explicit:
            continue
        similarities = None if matrix is None else matrix[row]
        inferred = _inferred(sentence, creditable, quotes, similarities)
        for number in inferred:
            cited.setdefault(number, Citation(number, live_hits[number - 1], inferred=True))
        if inferred:
            continue
        if any(flagged) and _inferred(sentence, flagged, quotes, similarities):
            flagged_only.append(sentence)
        else:
            unsupported.append(sentence)
    citations = sorted(cited.values(), key=lambda c: (c.inferred, c.number))
    return Verification(citations, removed, unsupported, flagged_only)


def _numbers(sentence: str) -> list[int]:
    numbers: list[int] = []
    for group in _MARKER.findall(sentence):
        for raw in group.split(","):
            if int(raw) not in numbers:
                numbers.append(int(raw))
    return numbers


def _check(number: int, live_hits: Sequence[SearchHit | None], quotes: list[str]) -> str | None:
    if not 1 <= number <= len(live_hits):
        return "not_retrieved"
    hit = live_hits[number - 1]
    if hit is None:
        return "not_live"
    if quotes and not _contains_all(hit.post.text, quotes):
        return "quote_not_in_post"
    return None


def _inferred(
    sentence: str, live_hits: Sequence[SearchHit | None], quotes: list[str], similarities: np.ndarray | None
) -> list[int]:
    """Supporting posts among the live ones; a sentence with quotes only by posts that contain them."""
    numbers = [number for number, hit in enumerate(live_hits, start=1) if hit is not None]
    candidates = [live_hits[n - 1] for n in numbers]
    scores = None if similarities is None else similarities[[n - 1 for n in numbers]]
    found = [numbers[i - 1] for i in supporting_posts(sentence, candidates, scores)]
    if quotes:
        found = [n for n in found if _contains_all(live_hits[n - 1].post.text, quotes)]
    return found


def _quotes(sentence: str) -> list[str]:
    return [_normal(a or b) for a, b in _QUOTE.findall(sentence)]


def _contains_all(text: str, quotes: list[str]) -> bool:
    text = _normal(text)
    return all(quote in text for quote in quotes)


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip(" .,!?;:'")
