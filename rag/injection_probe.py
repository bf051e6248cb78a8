"""A learned injection signal: a linear probe on a post's sentence embedding.

The pattern scorer (``rag/safety.py``) knows phrasings; new phrasings and other
languages slip past it (bench/results/injection_heldout.json). The probe is a
logistic regression over the all-MiniLM-L6-v2 vector of the post, trained by
``bench/train_injection_probe.py`` on the development attacks
(tests/eval/injection/posts.jsonl) against real CrisisLexT6 tweets, so it
scores what a post is *about* (addressing an assistant, its answer, its
sources) rather than its wording. Its thresholds are set from real tweets
alone, never from attack recall: the share of held-out tweets that would be
down-weighted (1%) or excluded (0.1%), and a stricter one (5%) below which a
post must score for feedpulse to *credit* it with a sentence on its own
inference: not citing a real post costs little when others support the
sentence, while vouching for a hostile one is the attack.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "injection_probe.npz"
# Risk weights the probe adds (combined with the pattern scorer's as independent signals):
# above ``exclude_at`` enough to exclude on its own (SafetyConfig.exclude_above 0.5),
# above ``downweight_at`` enough to down-weight (downweight_above 0.25).
EXCLUDE_WEIGHT = 0.6
DOWNWEIGHT_WEIGHT = 0.3


@dataclass(slots=True, frozen=True)
class InjectionProbe:
    """``weights · vector + bias`` per post; higher reads more like an injection."""

    weights: np.ndarray  # (dim,)
    bias: float
    downweight_at: float
    exclude_at: float
    model: str  # the embedding model it was trained on
    doubt_at: float = float("inf")  # at or above: never credited by inferred attribution

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> InjectionProbe:
        with np.load(path) as data:
            return cls(
                weights=data["weights"].astype(np.float32),
                bias=float(data["bias"]),
                downweight_at=float(data["downweight_at"]),
                exclude_at=float(data["exclude_at"]),
                model=str(data["model"]),
                doubt_at=float(data["doubt_at"]) if "doubt_at" in data else float("inf"),
            )

    def save(self, path: Path) -> None:
        np.savez(
            path,
            weights=self.weights,
            bias=self.bias,
            downweight_at=self.downweight_at,
            exclude_at=self.exclude_at,
            model=self.model,
            doubt_at=self.doubt_at,
        )

    @property
    def dim(self) -> int:
        return int(self.weights.shape[0])

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Decision values for (n, dim) vectors."""
        return np.asarray(vectors, np.float32) @ self.weights + self.bias

    def risk_weights(self, scores: np.ndarray) -> list[float]:
        """Per post (decision values from ``scores``): the risk weight the probe adds."""
        return [
            EXCLUDE_WEIGHT if s >= self.exclude_at else DOWNWEIGHT_WEIGHT if s >= self.downweight_at else 0.0
            for s in scores
        ]

    def doubtful(self, scores: np.ndarray) -> list[bool]:
        """Per post: too close to an injection for feedpulse to credit it on its own inference."""
        return [bool(s >= self.doubt_at) for s in scores]


def load_probe(path: Path, embedder_dim: int, packaged_model: bool) -> InjectionProbe | None:
    """The probe, or None (logged) when the embedder in use is not the one it was trained on.

    Args:
        packaged_model: the embedder runs the packaged all-MiniLM-L6-v2 (no ``model_dir`` set).
    """
    probe = InjectionProbe.load(path)
    if probe.dim != embedder_dim or not packaged_model:
        log.warning(
            "injection probe %s was trained on %s (%d-d); the embedder in use is another (%d-d): probe off",
            path,
            probe.model,
            probe.dim,
            embedder_dim,
        )
        return None
    return probe
