"""Background generation that gives way to answers: the LLM serves /v1/ask first.

``ForegroundGate`` wraps the ``Generator`` that answers users and counts the
requests it has in flight. Background work (story summaries) runs through
``in_background``: it starts only once no answer has been generated for a
while, and is cancelled as soon as one starts (closing the request makes vLLM
abort it), so it never delays an answer by more than the moment it takes to
cancel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager, suppress
from typing import TypeVar

from rag.generation import Generation, Generator
from rag.prompt import Prompt

T = TypeVar("T")
POLL_S = 0.1  # how often a waiting background run looks again while answers are in flight


class Preempted(Exception):
    """Background work was cancelled because an answer started."""


class ForegroundGate:
    """The answering ``Generator``, counting requests in flight so that background work can wait."""

    def __init__(self, inner: Generator, clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._clock = clock
        self._active = 0
        self._last_end = -float("inf")
        self._preempt: set[asyncio.Future[None]] = set()  # one per background run, set when an answer starts

    @property
    def active(self) -> int:
        """Answers being generated now."""
        return self._active

    async def generate(self, prompt: Prompt) -> Generation:
        with self._foreground():
            return await self._inner.generate(prompt)

    async def stream(self, prompt: Prompt) -> AsyncGenerator[str | Generation, None]:
        with self._foreground():
            async with aclosing(self._inner.stream(prompt)) as pieces:
                async for piece in pieces:
                    yield piece

    async def health(self) -> tuple[bool, str]:
        return await self._inner.health()

    async def in_background(self, work: Callable[[], Awaitable[T]], idle_s: float) -> T:
        """Run ``work()`` once no answer has been generated for ``idle_s``; cancel it if one starts.

        Raises:
            Preempted: an answer started while ``work`` ran (it was cancelled).
        """
        await self.wait_idle(idle_s)
        preempted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._preempt.add(preempted)
        task = asyncio.ensure_future(work())
        try:
            await asyncio.wait({task, preempted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._preempt.discard(preempted)
            if not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            raise Preempted("an answer started")
        return task.result()

    async def wait_idle(self, idle_s: float) -> None:
        """Return once no answer is in flight and none has ended in the last ``idle_s`` seconds."""
        while True:
            wait = POLL_S if self._active else self._last_end + idle_s - self._clock()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    @contextmanager
    def _foreground(self) -> Iterator[None]:
        self._active += 1
        for waiter in self._preempt:
            if not waiter.done():
                waiter.set_result(None)
        try:
            yield
        finally:
            self._active -= 1
            self._last_end = self._clock()
