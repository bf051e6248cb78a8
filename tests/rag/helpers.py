"""Small stand-ins for unit tests of rag/ and serve/ (integration tests use the real parts)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, Sequence

import numpy as np

from index.records import PostRecord, SearchHit
from rag.generation import Generation
from rag.prompt import Prompt
from rag.text import content_words

DIM = 64


class BagOfWordsEmbedder:
    """Hashes content words into a normalised vector: similar texts get similar vectors."""

    dim = DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in content_words(text) or {"_empty"}:
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class ScriptedGenerator:
    """Returns a fixed answer (streamed word by word) and records the prompts it was given.

    ``delay_s`` waits before each streamed word; ``closed`` counts streams that
    were closed, ``finished`` those that ran to the end.
    """

    def __init__(self, answer: str, delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.prompts: list[Prompt] = []
        self.closed = 0
        self.finished = 0

    async def generate(self, prompt: Prompt) -> Generation:
        self.prompts.append(prompt)
        return Generation(self.answer, "scripted", 10, 5, "stop")

    async def stream(self, prompt: Prompt) -> AsyncGenerator[str | Generation, None]:
        self.prompts.append(prompt)
        try:
            for word in self.answer.split(" "):
                await asyncio.sleep(self.delay_s)
                yield word + " "
            self.finished += 1
            yield Generation(self.answer, "scripted", 10, 5, "stop")
        finally:
            self.closed += 1

    async def health(self) -> tuple[bool, str]:
        return True, "ok"


def hit(post_id: str, text: str, score: float = 0.5, created_at: float = 1_366_000_000.0) -> SearchHit:
    return SearchHit(PostRecord(post_id=post_id, text=text, author="a", created_at=created_at), score)
