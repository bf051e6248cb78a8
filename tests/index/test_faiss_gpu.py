"""The GPU search path, against a stand-in for a CUDA build of faiss.

The stand-in behaves as faiss's GPU indexes do where it matters here: it copies
an index, adds and searches, but cannot remove ids, and it would ignore an id
selector (so the store must never hand it one). No CUDA faiss can be installed
on the CI machine; what this checks is the store's side: when the copy is used,
made, dropped and bypassed, and that answers equal the CPU's.
"""

import logging
from types import SimpleNamespace

import faiss
import numpy as np
import pytest

from index.config import IndexConfig
from index.faiss_gpu import MAX_FAILURES, GpuReplicas, choose_placement, replicas_for
from index.records import PostRecord
from index.store import PostStore

DIM = 8


class StandInGpuIndex:
    def __init__(self, index: faiss.Index, device: "StandInGpu") -> None:
        self._index = faiss.clone_index(index)
        self._device = device
        self.ntotal = index.ntotal

    def add_with_ids(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self._index.add_with_ids(vectors, ids)
        self.ntotal = self._index.ntotal

    def remove_ids(self, ids: np.ndarray) -> int:
        raise RuntimeError("remove_ids not implemented for this type of index")

    def search(self, query: np.ndarray, k: int, params: faiss.SearchParameters | None = None):
        if self._device.broken:
            raise RuntimeError("CUDA error: out of memory")
        assert params is None or params.sel is None, "a GPU index would ignore this selector"
        self._device.searches += 1
        return self._index.search(query, k, params=params)


class StandInGpu:
    """The parts of a CUDA faiss module that index/faiss_gpu.py uses."""

    def __init__(self, gpus: int = 1) -> None:
        self.gpus = gpus
        self.copies = 0
        self.searches = 0
        self.broken = False
        self.StandardGpuResources = SimpleNamespace
        self.__version__ = "stand-in"

    def get_num_gpus(self) -> int:
        return self.gpus

    def index_cpu_to_gpu(self, resources: object, device: int, index: faiss.Index) -> StandInGpuIndex:
        self.copies += 1
        return StandInGpuIndex(index, self)


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def fill(stores: list[PostStore], count: int, start: int = 0) -> None:
    posts = [PostRecord(str(i), "t", "a", created_at=100.0 * i) for i in range(start, start + count)]
    vectors = np.stack([unit(i) for i in range(start, start + count)])
    for store in stores:
        store.apply(posts, vectors)


def ids(store: PostStore, query: np.ndarray, **window: float) -> list[str]:
    return [hit.post.post_id for hit in store.search(query, k=5, **window)]


@pytest.fixture
def gpu() -> StandInGpu:
    return StandInGpu()


@pytest.fixture
def stores(gpu: StandInGpu) -> tuple[PostStore, PostStore]:
    """(on the stand-in GPU, on the CPU): same config, same posts."""
    config = IndexConfig(segment_posts=4, retention_s=None)
    pair = PostStore(DIM, config, gpu=GpuReplicas(gpu)), PostStore(DIM, config, gpu=None)
    fill(list(pair), 10)
    return pair


def test_the_pip_faiss_has_no_gpu_so_auto_searches_on_the_cpu(caplog):
    caplog.set_level(logging.INFO, logger="index.faiss_gpu")
    assert choose_placement("auto").device == "cpu"
    assert replicas_for("auto") is None
    assert "FAISS: searching on the CPU (the installed faiss" in caplog.text
    with pytest.raises(ValueError, match=r"FAISS_DEVICE=cuda, but the installed faiss .* has no GPU support"):
        choose_placement("cuda")


def test_placement_follows_what_faiss_sees(caplog):
    caplog.set_level(logging.INFO, logger="index.faiss_gpu")
    assert choose_placement("auto", StandInGpu(2)) == choose_placement("cuda", StandInGpu(2))
    assert choose_placement("auto", StandInGpu(2)).gpus == 2
    assert choose_placement("cpu", StandInGpu(2)).device == "cpu"
    assert "sees no GPU" in choose_placement("auto", StandInGpu(0)).reason
    assert isinstance(replicas_for("auto", StandInGpu(1)), GpuReplicas)
    assert "FAISS: searching on GPU 0 of 1" in caplog.text


def test_unfiltered_searches_run_on_the_gpu_copies_and_match_the_cpu(stores, gpu):
    on_gpu, on_cpu = stores
    for seed in range(10):
        assert ids(on_gpu, unit(seed)) == ids(on_cpu, unit(seed))
    assert gpu.copies == 3  # one per segment (4 + 4 + 2 posts), made once
    assert gpu.searches == 30


def test_new_posts_are_added_to_the_copy_without_copying_again(stores, gpu):
    on_gpu, on_cpu = stores
    ids(on_gpu, unit(0))
    fill(list(stores), 1, start=10)  # into the writable segment (2 + 1 posts)
    assert ids(on_gpu, unit(10)) == ids(on_cpu, unit(10)) and ids(on_gpu, unit(10))[0] == "10"
    assert gpu.copies == 3


def test_a_delete_drops_the_copy_and_the_post_never_comes_back(stores, gpu):
    on_gpu, on_cpu = stores
    ids(on_gpu, unit(0))
    for store in stores:
        store.apply([], np.empty((0, DIM), np.float32), deletes=["1"])
        store.apply([PostRecord("2", "edited", "a", created_at=200.0)], unit(2)[None])
    assert "1" not in ids(on_gpu, unit(1)) and ids(on_gpu, unit(1)) == ids(on_cpu, unit(1))
    assert on_gpu.search(unit(2), k=1)[0].post.text == "edited"
    assert gpu.copies == 4  # only the first segment (slots 0-3) was copied again


def test_a_window_that_cuts_a_segment_searches_the_cpu(stores, gpu):
    on_gpu, on_cpu = stores
    assert ids(on_gpu, unit(5), since=250, until=550) == ids(on_cpu, unit(5), since=250, until=550)
    assert sorted(ids(on_gpu, unit(5), since=250, until=550)) == ["3", "4", "5"]
    assert gpu.searches == 0  # slots 0-3 and 4-7 are cut by the window: bitmaps, so the CPU


def test_gpu_failures_fall_back_to_the_cpu_then_stop_trying(stores, gpu, caplog):
    on_gpu, on_cpu = stores
    gpu.broken = True
    for seed in range(MAX_FAILURES + 2):
        assert ids(on_gpu, unit(seed)) == ids(on_cpu, unit(seed))
    assert gpu.copies == MAX_FAILURES  # each failure drops the copy; then the GPU is left alone
    assert "the CPU searches from now on" in caplog.text


def test_an_ivf_rebuild_drops_the_copy(gpu):
    config = IndexConfig(ann="ivf", retention_s=None, nlist=8)
    on_gpu, on_cpu = PostStore(DIM, config, gpu=GpuReplicas(gpu)), PostStore(DIM, config, gpu=None)
    fill([on_gpu, on_cpu], 200)
    ids(on_gpu, unit(0))
    assert gpu.copies == 1 and on_gpu.layouts()[0].nlist == 0
    fill([on_gpu, on_cpu], 1_000, start=200)  # trainable now: the writer rebuilds it as IVF
    assert on_gpu.layouts()[0].nlist == 8
    assert ids(on_gpu, unit(7)) == ids(on_cpu, unit(7))
    assert gpu.copies == 2
