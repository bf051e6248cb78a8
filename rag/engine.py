"""The answer engine: retrieve (screened) → prompt → generate (whole or streamed) → verify citations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

import numpy as np

from index.embedder import Embedder
from index.records import IndexStats, SearchHit
from rag.citations import Citation
from rag.generation import Generation, Generator
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

        The deltas are the raw text; the final Answer's ``text`` is the tidied
        one its citations refer to. Closing the iterator early closes the
        generator's stream, which cancels generation.
        """
        prepared = await self._prepare(question, k, since, until, history)
        if prepared.prompt is None:
            yield self._no_posts(prepared)
            return
        generated_from = time.perf_counter()
        generation = None
        async with aclosing(self._generator.stream(prepared.prompt)) as pieces:
            async for piece in pieces:
                if isinstance(piece, Generation):
                    generation = piece
                else:
                    yield piece
        if generation is None:
            raise RuntimeError("generator stream ended without its Generation")
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
        verification = await asyncio.to_thread(self._verify, text, prepared.retrieval.hits)
        prepared.timings["attribute_ms"] = _ms(verified_from, time.perf_counter())
        return Answer(
            prepared.question,
            text,
            verification.citations,
            prepared.retrieval,
            generation,
            prepared.timings,
            verification.unsupported_citations,
            verification.unsupported_sentences,
            prepared.freshness,
        )

    def _verify(self, text: str, hits: list[SearchHit]) -> Verification:
        def similarity(sentences: Sequence[str]) -> np.ndarray:
            vectors = self._embedder.embed([*sentences, *(hit.post.text for hit in hits)])
            return vectors[: len(sentences)] @ vectors[len(sentences) :].T

        # The store is asked now, not at retrieval: a post deleted meanwhile is not cited.
        return verify(text, hits, self._retriever.store.get, similarity)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)
