"""The answer engine: retrieve (screened) → prompt → generate (whole or streamed) → guard and verify.

With defences on, the output guard (``rag/guard.py``) drops from the answer what
trusted posts do not support before its citations are built.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

import numpy as np

from index.embedder import Embedder
from index.records import IndexStats
from rag.citations import Citation
from rag.generation import Generation, Generator
from rag.guard import (
    NO_SUPPORTED_ANSWER,
    Evidence,
    Removal,
    StreamGate,
    drop_sentences,
    guard_answer,
    link_carriers,
)
from rag.prompt import Prompt, build_prompt
from rag.retrieval import Retrieval, Retriever
from rag.text import tidy_answer
from rag.verify import UnsupportedCitation, Verification, verify

NO_POSTS_ANSWER = "No indexed posts match this question in the searched time window."


@dataclass(slots=True, frozen=True)
class Freshness:
    """What the index reflected when the question was answered.

    ``index_lag_s`` is how long before the answer the newest indexed post was
    created: on a live stream, how far the index trails the present.
    """

    newest_post_at: float | None  # created time of the newest indexed post (Unix s)
    offsets: dict[int, int]  # partition -> next offset the index will read
    index_lag_s: float | None
    answered_at: float

    @classmethod
    def of(cls, stats: IndexStats, now: float) -> Freshness:
        newest = stats.newest_created_at
        lag = None if newest is None else round(max(0.0, now - newest), 3)
        return cls(newest, dict(stats.applied_offsets), lag, now)


@dataclass(slots=True)
class Answer:
    """An answer with the posts it cites, what was removed or unsupported, and how long each stage took."""

    question: str
    text: str
    citations: list[Citation]
    retrieval: Retrieval
    generation: Generation | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    unsupported_citations: list[UnsupportedCitation] = field(default_factory=list)
    unsupported_sentences: list[str] = field(default_factory=list)
    freshness: Freshness | None = None
    # What the output guard took out (dropped sentences are also in unsupported_sentences).
    removals: list[Removal] = field(default_factory=list)


@dataclass(slots=True)
class _Prepared:
    question: str
    retrieval: Retrieval
    freshness: Freshness
    prompt: Prompt | None  # None: no posts, nothing to generate
    started: float
    timings: dict[str, float]


class AnswerEngine:
    """Answers questions from indexed posts; owns no resources, only wires parts."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        embedder: Embedder,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._retriever = retriever
        self._generator = generator
        self._embedder = embedder
        self._clock = clock

    async def ask(
        self,
        question: str,
        k: int | None = None,
        since: float | None = None,
        until: float | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        """Answer ``question`` from the top-k posts in the window.

        Args:
            history: earlier conversation turns as (role, text), oldest first.

        Raises:
            GenerationUnavailable: the LLM cannot answer now (GenerationTimeout: not in time).
        """
        prepared = await self._prepare(question, k, since, until, history)
        if prepared.prompt is None:
            return self._no_posts(prepared)
        generated_from = time.perf_counter()
        generation = await self._generator.generate(prepared.prompt)
        prepared.timings["generate_ms"] = _ms(generated_from, time.perf_counter())
        return await self._finish(prepared, generation)

    async def ask_stream(
        self,
        question: str,
        k: int | None = None,
        since: float | None = None,
        until: float | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> AsyncIterator[str | Answer]:
        """Like ``ask``, but yields the model's text deltas as they come, then the verified Answer.

        The deltas are the raw text (with the output guard on, less what it
        withholds: ``rag.guard.StreamGate``); the final Answer's ``text`` is the
        tidied, guarded one its citations refer to. Closing the iterator early
        closes the generator's stream, which cancels generation.
        """
        prepared = await self._prepare(question, k, since, until, history)
        if prepared.prompt is None:
            yield self._no_posts(prepared)
            return
        gate = None
        if self._guarding:
            gate = StreamGate(await asyncio.to_thread(self._evidence, prepared.question, prepared.retrieval))
        generated_from = time.perf_counter()
        generation = None
        async with aclosing(self._generator.stream(prepared.prompt)) as pieces:
            async for piece in pieces:
                if isinstance(piece, Generation):
                    generation = piece
                elif gate is None:
                    yield piece
                else:
                    for released in gate.feed(piece):
                        yield released
        if generation is None:
            raise RuntimeError("generator stream ended without its Generation")
        for released in gate.flush() if gate else []:
            yield released
        prepared.timings["generate_ms"] = _ms(generated_from, time.perf_counter())
        yield await self._finish(prepared, generation)

    async def _prepare(
        self,
        question: str,
        k: int | None,
        since: float | None,
        until: float | None,
        history: Sequence[tuple[str, str]],
    ) -> _Prepared:
        started = time.perf_counter()
        # A follow-up ("and the suspects?") is searched together with the previous question.
        earlier = [text for role, text in history if role == "user"][-1:]
        query = " ".join([*earlier, question])
        # Embedding and FAISS search are CPU-bound; keep them off the event loop.
        retrieval, stats = await asyncio.to_thread(self._retrieve, query, k, since, until)
        timings = {"retrieve_ms": _ms(started, time.perf_counter())}
        freshness = Freshness.of(stats, self._clock())
        prompt = None
        if retrieval.hits:
            prompt = build_prompt(
                question, retrieval.hits, history=history, safety=self._retriever.config.safety
            )
        return _Prepared(question, retrieval, freshness, prompt, started, timings)

    def _retrieve(
        self, query: str, k: int | None, since: float | None, until: float | None
    ) -> tuple[Retrieval, IndexStats]:
        retrieval = self._retriever.retrieve(query, k, since, until, screen=True)
        return retrieval, self._retriever.store.stats()

    @property
    def _guarding(self) -> bool:
        safety = self._retriever.config.safety
        return safety.enabled and safety.output_guard

    def _evidence(self, question: str, retrieval: Retrieval) -> Evidence:
        """What the answer may draw identifiers from: the question and the trusted posts.

        Trusted: retrieved, not flagged by screening, and still live.
        """
        untrusted = {flagged.hit.post.post_id for flagged in retrieval.flagged}
        store = self._retriever.store
        trusted = [h for h in retrieval.hits if h.post.post_id not in untrusted and store.get(h.post.post_id)]
        return Evidence.of(question, trusted, retrieval.risks)

    def _no_posts(self, prepared: _Prepared) -> Answer:
        # Nothing to ground an answer in: say so rather than let the model guess.
        timings = prepared.timings | {"generate_ms": 0.0}
        return Answer(
            prepared.question,
            NO_POSTS_ANSWER,
            [],
            prepared.retrieval,
            None,
            timings,
            freshness=prepared.freshness,
        )

    async def _finish(self, prepared: _Prepared, generation: Generation) -> Answer:
        verified_from = time.perf_counter()
        text = tidy_answer(generation.text, truncated=generation.finish_reason == "length")
        text, verification, removals = await asyncio.to_thread(
            self._verify, text, prepared.question, prepared.retrieval
        )
        prepared.timings["attribute_ms"] = _ms(verified_from, time.perf_counter())
        dropped = [r.sentence for r in removals if r.reason != "link_removed"]
        return Answer(
            prepared.question,
            text,
            verification.citations,
            prepared.retrieval,
            generation,
            prepared.timings,
            verification.unsupported_citations,
            verification.unsupported_sentences + dropped,
            prepared.freshness,
            removals,
        )

    def _verify(
        self, text: str, question: str, retrieval: Retrieval
    ) -> tuple[str, Verification, list[Removal]]:
        hits = retrieval.hits

        def similarity(sentences: Sequence[str]) -> np.ndarray:
            vectors = self._embedder.embed([*sentences, *(hit.post.text for hit in hits)])
            return vectors[: len(sentences)] @ vectors[len(sentences) :].T

        # The store is asked now, not at retrieval: a post deleted meanwhile is not cited.
        live = self._retriever.store.get
        if not self._guarding:
            return text, verify(text, hits, live, similarity), []
        text, removals = guard_answer(text, self._evidence(question, retrieval))
        untrusted = {flagged.hit.post.post_id for flagged in retrieval.flagged}
        untrusted |= link_carriers(removals, hits)
        verification = verify(text, hits, live, similarity, untrusted, retrieval.doubtful)
        if verification.flagged_support:
            text = drop_sentences(text, verification.flagged_support)
            removals += [Removal(s, "flagged_support", "") for s in verification.flagged_support]
        if removals and not text:
            text = NO_SUPPORTED_ANSWER
        return text, verification, removals


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)
