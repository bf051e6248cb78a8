"""The embedder: length-sorted batching, the backend choice, and the fast path's quality on real tweets."""

from __future__ import annotations

import numpy as np
import pytest

from index.batching import embed_length_sorted, length_sorted_batches, pad
from index.config import EmbedderConfig
from index.cpu import available_cores, cpu_flags, native_bf16
from index.embedder import SentenceTransformerEmbedder, choose_backend
from index.errors import EmbedderError

AVX2 = frozenset({"avx2", "fma"})
AMX = AVX2 | {"avx512f", "avx512_bf16", "amx_bf16", "amx_int8"}


def test_length_sorted_batches_cover_every_index_shortest_first():
    lengths = [9, 3, 7, 3, 12, 1, 5]
    batches = length_sorted_batches(lengths, 3)
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_pad_right_pads_and_masks():
    ids, mask = pad([np.array([101, 7, 102]), np.array([101, 102])], pad_id=0)
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert ids.dtype == mask.dtype == np.int64


def test_embed_length_sorted_restores_order_and_normalises():
    rng = np.random.default_rng(0)
    texts = [rng.integers(1, 50, size=rng.integers(2, 40)) for _ in range(101)]
    widths = []

    def fake(input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # A vector that depends only on the unpadded ids, unnormalised on purpose.
        widths.append(input_ids.shape[1])
        sums = (input_ids * mask).sum(axis=1, keepdims=True).astype(np.float32)
        return np.hstack([sums, mask.sum(axis=1, keepdims=True).astype(np.float32), np.ones_like(sums)])

    out = embed_length_sorted(texts, fake, batch_size=16, dim=3, pad_id=0)
    expected = np.array([[row.sum(), len(row), 1.0] for row in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32
    assert widths == sorted(widths)  # each batch pads only to its own longest text


@pytest.mark.parametrize(
    ("backend", "precision", "device", "flags", "onnx", "expected"),
    [
        ("auto", "auto", "cpu", AVX2, True, ("onnx", "fp32")),
        ("auto", "auto", "cpu", AVX2, False, ("torch", "fp32")),
        ("auto", "auto", "cpu", AMX, True, ("torch", "bf16")),
        ("auto", "auto", "cuda", AVX2, True, ("torch", "fp16")),
        ("auto", "auto", "cuda:1", AMX, True, ("torch", "fp16")),
        ("auto", "int8", "cpu", AMX, True, ("onnx", "int8")),
        ("auto", "fp32", "cpu", AMX, True, ("onnx", "fp32")),
        ("auto", "bf16", "cpu", AVX2, True, ("torch", "bf16")),  # asked for: runs, emulated
        ("torch", "auto", "cpu", AVX2, True, ("torch", "fp32")),
        ("torch", "auto", "cpu", AMX, True, ("torch", "bf16")),
        ("torch", "bf16", "cuda", AVX2, False, ("torch", "bf16")),
        ("onnx", "auto", "cpu", AMX, True, ("onnx", "fp32")),
    ],
)
def test_choose_backend(backend, precision, device, flags, onnx, expected):
    choice = choose_backend(backend, precision, device, flags, onnx)
    assert (choice.backend, choice.precision) == expected
    assert choice.reason


@pytest.mark.parametrize(
    ("backend", "precision", "device", "onnx"),
    [
        ("onnx", "auto", "cuda", True),  # no onnxruntime-gpu here
        ("onnx", "auto", "cpu", False),  # not installed
        ("onnx", "bf16", "cpu", True),
        ("torch", "int8", "cpu", True),
        ("torch", "fp16", "cpu", True),
        ("auto", "int8", "cuda", True),
    ],
)
def test_choose_backend_refuses_what_cannot_run(backend, precision, device, onnx):
    with pytest.raises(EmbedderError):
        choose_backend(backend, precision, device, AVX2, onnx)


def test_cpu_flags_and_bf16(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma amx_bf16\n")
    flags = cpu_flags(cpuinfo)
    assert {"avx2", "amx_bf16"} <= flags
    assert native_bf16(flags)
    assert not native_bf16(AVX2)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_available_cores_honours_a_cgroup_quota(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")
    assert available_cores(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert available_cores(cpu_max) >= 1
    assert available_cores(tmp_path / "missing") >= 1


# --- the real model (slow: loads it; the first ONNX run exports it into the cache) ---


@pytest.fixture(scope="module")
def tweets(crisislex_dir) -> list[str]:
    from ingest.crisislex import merged_tweets

    every = [tweet.text for tweet in merged_tweets([crisislex_dir])]
    return every[:: len(every) // 200][:200]  # spread over all six events


@pytest.fixture(scope="module")
def fp32_reference(tweets) -> np.ndarray:
    """Plain sentence-transformers fp32, the way the baseline encodes."""
    from sentence_transformers import SentenceTransformer

    from index.embedder import packaged_model_dir

    model = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    return model.encode(tweets, batch_size=32, normalize_embeddings=True)


@pytest.fixture(scope="module")
def auto_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(EmbedderConfig(device="cpu"))


def recall_at_10(reference: np.ndarray, vectors: np.ndarray) -> float:
    def top10(x: np.ndarray) -> np.ndarray:
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :10]

    ref, got = top10(reference), top10(vectors)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref, got, strict=True)]))


@pytest.mark.slow
def test_fast_path_matches_fp32_on_real_tweets(auto_embedder, tweets, fp32_reference):
    vectors = auto_embedder.embed(tweets)
    assert vectors.shape == (len(tweets), auto_embedder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * fp32_reference).sum(axis=1)
    path = f"{auto_embedder.backend}/{auto_embedder.precision}"
    assert cosine.min() >= 0.99, f"{path}: min cosine {cosine.min()}"
    assert recall_at_10(fp32_reference, vectors) >= 0.95


@pytest.mark.slow
def test_order_is_restored_on_the_real_model(auto_embedder, tweets):
    texts = tweets[:40]
    together = auto_embedder.embed(texts)
    alone = np.vstack([auto_embedder.embed([text]) for text in texts[:8]])
    np.testing.assert_allclose(together[:8], alone, atol=1e-4)
    assert auto_embedder.embed([]).shape == (0, auto_embedder.dim)


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "precision"), [("torch", "fp32"), ("onnx", "int8")])
def test_override_is_respected(backend, precision, tweets):
    embedder = SentenceTransformerEmbedder(EmbedderConfig(device="cpu", backend=backend, precision=precision))
    assert (embedder.backend, embedder.precision) == (backend, precision)
    vectors = embedder.embed(tweets[:16])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
