"""The answer engine: retrieve → prompt → generate → attribute citations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from index.embedder import Embedder
from index.records import SearchHit
from rag.citations import Citation, attribute
from rag.generation import Generation, Generator
from rag.prompt import build_prompt
from rag.retrieval import Retrieval, Retriever
from rag.text import tidy_answer

NO_POSTS_ANSWER = "No indexed posts match this question in the searched time window."


@dataclass(slots=True)
class Answer:
    """An answer with the posts it cites and how long each stage took."""

    question: str
    text: str
    citations: list[Citation]
    retrieval: Retrieval
    generation: Generation | None
    timings_ms: dict[str, float] = field(default_factory=dict)


class AnswerEngine:
    """Answers questions from indexed posts; owns no resources, only wires parts."""

    def __init__(self, retriever: Retriever, generator: Generator, embedder: Embedder) -> None:
        self._retriever = retriever
        self._generator = generator
        self._embedder = embedder

    async def ask(
        self,
        question: str,
        k: int | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> Answer:
        """Answer ``question`` from the top-k posts in the window.

        Raises:
            GenerationUnavailable: the LLM cannot answer now.
        """
        started = time.perf_counter()
        # Embedding and FAISS search are CPU-bound; keep them off the event loop.
        retrieval = await asyncio.to_thread(self._retriever.retrieve, question, k, since, until)
        retrieved = time.perf_counter()
        timings = {"retrieve_ms": _ms(started, retrieved)}
        if not retrieval.hits:
            # Nothing to ground an answer in: say so rather than let the model guess.
            return Answer(question, NO_POSTS_ANSWER, [], retrieval, None, timings | {"generate_ms": 0.0})
        generation = await self._generator.generate(build_prompt(question, retrieval.hits))
        generated = time.perf_counter()
        text = tidy_answer(generation.text, truncated=generation.finish_reason == "length")
        citations = await asyncio.to_thread(self._attribute, text, retrieval.hits)
        timings |= {
            "generate_ms": _ms(retrieved, generated),
            "attribute_ms": _ms(generated, time.perf_counter()),
        }
        return Answer(question, text, citations, retrieval, generation, timings)

    def _attribute(self, text: str, hits: list[SearchHit]) -> list[Citation]:
        def similarity(sentences: Sequence[str]) -> np.ndarray:
            vectors = self._embedder.embed([*sentences, *(hit.post.text for hit in hits)])
            return vectors[: len(sentences)] @ vectors[len(sentences) :].T

        return attribute(text, hits, similarity)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)
