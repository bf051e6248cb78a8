"""Injection screening of posts, shared by answers (``rag/retrieval.py``) and trend summaries.

A post's risk combines the pattern scorer (``rag/safety.py``) with, when there is
one, the learned probe on the post's embedding (``rag/injection_probe.py``). The
probe also says which posts it doubts: shown, but not credited by inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.embedder import Embedder
from rag.injection_probe import InjectionProbe
from rag.safety import Risk, injection_risk, with_signal


@dataclass(slots=True, frozen=True)
class Assessment:
    """One post's injection risk, and whether the probe doubts it."""

    risk: Risk
    doubtful: bool = False


@dataclass(slots=True, frozen=True)
class Screening:
    """Assesses posts by patterns, plus the probe (which needs the embedder) when both are given."""

    embedder: Embedder | None = None
    probe: InjectionProbe | None = None

    def assess(self, texts: Sequence[str]) -> list[Assessment]:
        risks = [injection_risk(text) for text in texts]
        if self.probe is None or self.embedder is None or not texts:
            return [Assessment(risk) for risk in risks]
        # Embedded again rather than read back from FAISS: IVF segments keep fp16 codes, not vectors.
        scores = self.probe.scores(self.embedder.embed(list(texts)))
        return [
            Assessment(with_signal(risk, "probe", weight), doubtful)
            for risk, weight, doubtful in zip(
                risks, self.probe.risk_weights(scores), self.probe.doubtful(scores), strict=True
            )
        ]
