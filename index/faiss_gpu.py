"""FAISS on the GPU: a read replica of each segment's index, when the installed faiss can.

The pip ``faiss-cpu`` wheel has no GPU support; a faiss built with CUDA does
(``faiss.StandardGpuResources`` exists and ``faiss.get_num_gpus()`` > 0).

GPU indexes cannot remove ids, and they ignore id selectors without an error
(faiss issues #584 and #3924). So the CPU index of a segment stays the source of
truth, and its GPU copy (``index_cpu_to_gpu``) only answers searches that need no
selector, i.e. whose time window covers the whole segment:

- new posts are added to both;
- removing posts (deletes, replacements) or rebuilding the segment's index drops
  the copy, and the next search that could use it makes a fresh one;
- a time window that cuts a segment, and any GPU error, search on the CPU.

Searches on the GPU are serialised: a GPU index is not safe for concurrent use.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import faiss
import numpy as np

log = logging.getLogger(__name__)

FaissDevice = Literal["auto", "cpu", "cuda"]
MAX_FAILURES = 3


@dataclass(frozen=True, slots=True)
class FaissPlacement:
    """Where the store searches: ``cpu``, or ``cuda`` with ``gpus`` devices seen; and why."""

    device: Literal["cpu", "cuda"]
    gpus: int
    reason: str


def choose_placement(requested: FaissDevice, module: ModuleType = faiss) -> FaissPlacement:
    """Resolve ``auto``; an explicit ``cuda`` that cannot run here is an error, not a fallback.

    Raises:
        ValueError: ``cuda`` was asked for, but this faiss has no GPU support or sees no GPU.
    """
    version = getattr(module, "__version__", "?")
    gpu_build = hasattr(module, "StandardGpuResources")  # absent from the CPU-only wheel
    gpus = int(module.get_num_gpus()) if gpu_build else 0
    if requested == "cpu":
        return FaissPlacement("cpu", gpus, "faiss_device=cpu set in config")
    if gpus:
        return FaissPlacement("cuda", gpus, f"faiss {version} sees {gpus} GPU(s)")
    why = f"faiss {version} has GPU support but sees no GPU"
    if not gpu_build:
        why = f"the installed faiss {version} has no GPU support"
    if requested == "cuda":
        raise ValueError(f"FEEDPULSE_INDEX__FAISS_DEVICE=cuda, but {why}")
    return FaissPlacement("cpu", 0, why)


class GpuReplicas:
    """Makes and searches GPU copies of segment indexes on one device.

    Args:
        module: the faiss module (a CUDA build); tests pass a stand-in.
        device: the GPU number.
    """

    def __init__(self, module: ModuleType = faiss, device: int = 0) -> None:
        self._faiss = module
        self._device = device
        self._resources = module.StandardGpuResources()
        self._lock = threading.Lock()
        self.failures = 0  # copies, adds or searches that fell back to the CPU

    @property
    def enabled(self) -> bool:
        """False once the GPU failed ``MAX_FAILURES`` times: copying again would only cost."""
        return self.failures < MAX_FAILURES

    def copy(self, index: faiss.Index) -> faiss.Index | None:
        """A GPU copy of ``index``, or None (logged) when the GPU cannot hold it."""
        try:
            with self._lock:
                return self._faiss.index_cpu_to_gpu(self._resources, self._device, index)
        except (RuntimeError, MemoryError) as exc:
            self._failed(f"copy an index of {index.ntotal} vectors to", exc)
            return None

    def add(self, replica: faiss.Index, vectors: np.ndarray, ids: np.ndarray) -> bool:
        """Add to a copy; False (logged) when the copy must be dropped instead."""
        try:
            with self._lock:
                replica.add_with_ids(vectors, ids)
            return True
        except (RuntimeError, MemoryError) as exc:
            self._failed(f"add {len(ids)} vectors on", exc)
            return False

    def search(
        self, replica: faiss.Index, query: np.ndarray, k: int, params: faiss.SearchParameters | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores, ids) from the copy, or None (logged) when the CPU must answer."""
        if params is not None and getattr(params, "sel", None) is not None:
            raise ValueError("a GPU index ignores id selectors; search the CPU index instead")
        try:
            with self._lock:
                return replica.search(query, k, params=params)
        except (RuntimeError, MemoryError) as exc:
            self._failed(f"search {len(query)} queries on", exc)
            return None

    def _failed(self, action: str, exc: BaseException) -> None:
        self.failures += 1
        device = self._device
        log.warning("FAISS: cannot %s GPU %d (%s); using the CPU index", action, device, exc)
        if not self.enabled:
            log.error("FAISS: GPU %d failed %d times; the CPU searches from now on", device, MAX_FAILURES)


def replicas_for(requested: FaissDevice, module: ModuleType = faiss) -> GpuReplicas | None:
    """GPU replicas when the placement is ``cuda``, else None; logs which devices search."""
    placement = choose_placement(requested, module)
    if placement.device == "cpu":
        log.info("FAISS: searching on the CPU (%s)", placement.reason)
        return None
    log.info(
        "FAISS: searching on GPU 0 of %d (%s); the CPU index takes deletes and time windows",
        placement.gpus,
        placement.reason,
    )
    return GpuReplicas(module, device=0)
