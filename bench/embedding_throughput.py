"""Embedding throughput on real tweets: each backend/precision of our embedder vs plain fp32.

Baseline: ``SentenceTransformer(model).encode(texts, batch_size=32)`` in fp32, as a
newcomer would call it. Contenders: ``SentenceTransformerEmbedder`` on every path that
runs here (torch fp32 / bf16, ONNX Runtime fp32 / int8).

Taking turns: the tweets are cut into chunks (``--chunk``); for every chunk the
baseline runs, then the contender, so load from other processes hits both within a
few seconds of each other. "x baseline" is the median of those per-chunk ratios;
posts/s is the median chunk rate, "best" the fastest chunk (the least disturbed).

Quality against the baseline's fp32 vectors: cosine per post (min, mean) and
recall@10 (each post as a query among all of them: overlap of the two top-10 sets).
A path passes at min cosine >= 0.99 and recall@10 >= 0.95.

What bounds the rate: matmul FLOPs per post from the model's shape and the posts'
token counts, against an fp32 peak estimated as cores x 2 FMA units x SIMD lanes x 2
x clock, and against the rate a large fp32 matmul (torch.mm) actually reaches here.

    python bench/embedding_throughput.py [--posts 2048] [--rounds 3] [--chunk 256]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import write_result
from index.config import EmbedderConfig
from index.cpu import available_cores, cpu_flags, describe_flags, native_bf16
from index.embedder import SentenceTransformerEmbedder, packaged_model_dir
from index.onnx_runner import onnx_available
from ingest.crisislex import data_dir, merged_tweets

MIN_COSINE, MIN_RECALL = 0.99, 0.95
TARGET = 1500  # posts/s on 2 cores, issue 3


def sample_tweets(count: int) -> list[str]:
    """``count`` tweet texts spread evenly over all six events (time order within)."""
    every = [tweet.text for tweet in merged_tweets([data_dir()])]
    step = max(1, len(every) // count)
    return every[::step][:count]


def timed(embed, texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = embed(texts)
    return len(texts) / (time.perf_counter() - started), np.asarray(vectors, dtype=np.float32)


def recall_at_10(reference: np.ndarray, vectors: np.ndarray) -> float:
    def top10(x: np.ndarray) -> np.ndarray:
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        return np.argpartition(-sims, 10, axis=1)[:, :10]

    ref, got = top10(reference), top10(vectors)
    return float(np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(ref, got, strict=True)]))


def flops_per_post(embedder: SentenceTransformerEmbedder, texts: list[str]) -> tuple[float, float]:
    """(mean tokens per post, matmul FLOPs per post) for a BERT-shaped model, no padding."""
    config = embedder._runner.model[0].auto_model.config if embedder.backend == "torch" else None
    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(embedder.model_dir))
    hidden, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    tokens = np.array([len(ids) for ids in embedder._runner.encoder.encode(texts)], dtype=np.float64)
    dense = 2 * (4 * hidden * hidden + 2 * hidden * ffn)  # QKV + output, FFN in/out: per token per layer
    attention = 4 * hidden * tokens  # QKᵀ and AV: per token per layer, grows with length
    return float(tokens.mean()), float(np.mean(layers * tokens * (dense + attention)))


def peak_fp32_gflops(cores: int, flags: frozenset[str]) -> tuple[float, float]:
    """(clock GHz, estimated fp32 peak GFLOP/s): cores x 2 FMA units x lanes x 2 FLOPs x clock."""
    mhz = 0.0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            mhz = max(mhz, float(line.partition(":")[2]))
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    return mhz / 1000, cores * 2 * lanes * 2 * mhz / 1000


@dataclass(slots=True)
class Contender:
    """One backend/precision of our embedder and what it measured."""

    backend: str
    precision: str
    note: str = ""
    embedder: SentenceTransformerEmbedder | None = None
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.backend} {self.precision}" + (f" ({self.note})" if self.note else "")


def contenders(flags: frozenset[str], skip_emulated: bool) -> list[Contender]:
    """Every path that runs on this machine (bf16 without hardware support: one round, unless skipped)."""
    paths = [Contender("torch", "fp32")]
    if native_bf16(flags):
        paths.append(Contender("torch", "bf16"))
    elif not skip_emulated:
        paths.append(Contender("torch", "bf16", "emulated: no native bf16; 1 round"))
    if onnx_available():
        paths += [Contender("onnx", "fp32"), Contender("onnx", "int8")]
    return paths


def sgemm_gflops(threads: int) -> float:
    """fp32 GFLOP/s of a large torch matmul (2048 x 2048 x 2048), best of five, on ``threads``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        a @ b
        best = max(best, 2 * 2048**3 / (time.perf_counter() - started) / 1e9)
    torch.set_num_threads(before)
    return best


def measure(
    args: argparse.Namespace, texts: list[str], console: Console
) -> tuple[np.ndarray, list[float], list[Contender]]:
    """The fp32 reference vectors, then baseline and each contender taking turns chunk by chunk."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(packaged_model_dir()), device="cpu")

    def baseline(batch: list[str]) -> np.ndarray:
        return model.encode(batch, batch_size=32, normalize_embeddings=True, show_progress_bar=False)

    paths = contenders(cpu_flags(), args.skip_emulated)
    for path in paths:
        config = EmbedderConfig(
            device="cpu", backend=path.backend, precision=path.precision, batch_size=args.batch
        )
        path.embedder = SentenceTransformerEmbedder(config)
        path.embedder.embed(texts[:64])  # warm-up (and the one-time ONNX export)
    reference = baseline(texts)  # also the warm-up
    chunks = [texts[start : start + args.chunk] for start in range(0, len(texts), args.chunk)]
    base_rates: list[float] = []
    for round_no in range(1, args.rounds + 1):
        for path in paths:
            if path.note and round_no > 1:  # emulated bf16 takes minutes a round: one is enough
                continue
            path.vectors = []
            for chunk in chunks:
                base_rate, _ = timed(baseline, chunk)
                rate, vectors = timed(path.embedder.embed, chunk)
                base_rates.append(base_rate)
                path.rates.append(rate)
                path.ratios.append(rate / base_rate)
                path.vectors.append(vectors)
            rates, ratios = path.rates[-len(chunks) :], path.ratios[-len(chunks) :]
            console.print(
                f"round {round_no}: {path.name}: {statistics.median(rates):6.1f} posts/s, "
                f"{statistics.median(ratios):.2f}x baseline (chunks {min(ratios):.2f}..{max(ratios):.2f})"
            )
    return reference, base_rates, paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=256, help="posts per timed turn")
    parser.add_argument("--batch", type=int, default=64, help="our embedder's CPU batch size")
    parser.add_argument("--skip-emulated", action="store_true", help="leave out bf16 where it is emulated")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    console = Console(width=160)
    flags, cores = cpu_flags(), available_cores()
    texts = sample_tweets(args.posts)
    sgemm = {1: sgemm_gflops(1), cores: sgemm_gflops(cores)}
    reference, base_rates, paths = measure(args, texts, console)
    sgemm = {n: max(rate, sgemm_gflops(n)) for n, rate in sgemm.items()}  # before and after: the better
    auto = SentenceTransformerEmbedder(EmbedderConfig(device="cpu"))
    tokens, flops = flops_per_post(paths[0].embedder, texts)
    ghz, peak = peak_fp32_gflops(cores, flags)

    def gflops(rate: float) -> str:
        return f"{rate * flops / 1e9:.0f} ({100 * rate * flops / 1e9 / sgemm[cores]:.0f}%)"

    base_rate, base_best = statistics.median(base_rates), max(base_rates)
    table = Table("path", "posts/s", "best", "x baseline", "min cos", "mean cos", "recall@10", "passes")
    table.add_column("GFLOP/s (% of sgemm)")
    baseline_row = ("1.00", "1", "1", "1", "-", gflops(base_rate))
    table.add_row(
        "baseline: ST encode fp32, batch 32", f"{base_rate:,.0f}", f"{base_best:,.0f}", *baseline_row
    )
    results = []
    for path in paths:
        vectors = np.vstack(path.vectors)
        cosine = (vectors * reference).sum(axis=1)
        recall = recall_at_10(reference, vectors)
        rate, best, ratio = statistics.median(path.rates), max(path.rates), statistics.median(path.ratios)
        passes = bool(cosine.min() >= MIN_COSINE and recall >= MIN_RECALL)
        chosen = (path.backend, path.precision) == (auto.backend, auto.precision)
        table.add_row(
            path.name + (" [auto]" if chosen else ""), f"{rate:,.0f}", f"{best:,.0f}", f"{ratio:.2f}",
            f"{cosine.min():.4f}", f"{cosine.mean():.5f}", f"{recall:.3f}", "yes" if passes else "no",
            gflops(rate),
        )  # fmt: skip
        results.append(
            {
                "backend": path.backend,
                "precision": path.precision,
                "note": path.note,
                "auto": chosen,
                "posts_per_s_median": round(rate, 1),
                "posts_per_s_best": round(best, 1),
                "ratio_vs_baseline": round(ratio, 3),
                "timed_chunks": len(path.rates),
                "min_cosine": round(float(cosine.min()), 5),
                "mean_cosine": round(float(cosine.mean()), 6),
                "recall_at_10": round(recall, 4),
                "passes": passes,
            }
        )
    console.print(table)
    needed = TARGET * flops / 1e9
    console.print(
        f"{len(texts)} tweets, {tokens:.1f} tokens/post, {flops / 1e9:.2f} GFLOP/post (matmuls, no padding). "
        f"{cores} cores ({describe_flags(flags)}) at {ghz:.2f} GHz: fp32 peak about {peak:.0f} GFLOP/s "
        f"= {peak * 1e9 / flops:.0f} posts/s; a 2048^3 sgemm reaches {sgemm[1]:.0f} GFLOP/s on 1 thread, "
        f"{sgemm[cores]:.0f} on {cores} = {sgemm[cores] * 1e9 / flops:.0f} posts/s. "
        f"{TARGET} posts/s needs {needed:.0f} GFLOP/s."
    )
    console.print(f"auto picks: backend={auto.backend} precision={auto.precision}")
    baseline = {
        "what": "SentenceTransformer.encode fp32 batch_size=32",
        "posts_per_s_median": round(base_rate, 1),
        "posts_per_s_best": round(base_best, 1),
    }
    path = write_result(
        "embedding_throughput",
        {
            "posts": len(texts),
            "rounds": args.rounds,
            "chunk": args.chunk,
            "threads": cores,
            "batch_size": args.batch,
            "cpu_flags": describe_flags(flags),
            "baseline": baseline,
            "paths": results,
            "auto": {"backend": auto.backend, "precision": auto.precision},
            "quality_bar": {"min_cosine": MIN_COSINE, "recall_at_10": MIN_RECALL},
            "tokens_per_post": round(tokens, 2),
            "gflop_per_post": round(flops / 1e9, 4),
            "clock_ghz": round(ghz, 3),
            "fp32_peak_gflops_estimate": round(peak, 1),
            "sgemm_gflops_measured": {str(n): round(rate, 1) for n, rate in sgemm.items()},
            "target_posts_per_s": TARGET,
            "target_gflops_needed": round(needed, 1),
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
