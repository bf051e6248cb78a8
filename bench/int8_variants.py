"""Partial int8: which of the model's matmuls can be quantised and still pass the quality bar?

``bench/embedding_throughput.py`` finds dynamic int8 (every weight matmul, per
channel) ~1.8x faster than fp32 on a VNNI CPU but under the bar (min cosine >= 0.99
and recall@10 >= 0.95 against fp32 on real tweets). This quantises the same ONNX
export with parts left in fp32 (the FFN down-projections, the fused attention,
the first or last layer, ...) and measures each against torch fp32 on the same
tweets, with the fp32 ONNX model as the speed baseline in the same run.

    python bench/int8_variants.py [--posts 2048]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import write_result
from bench.embedding_throughput import MIN_COSINE, MIN_RECALL, recall_at_10, sample_tweets
from index.config import EmbedderConfig
from index.embedder import SentenceTransformerEmbedder
from index.onnx_runner import FP32_FILE, quantize_int8

SPEED_POSTS = 768


def matmul_names(model_path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(model_path)).graph
    return [node.name for node in graph.node if node.op_type in ("MatMul", "Attention")]


def variants(names: list[str]) -> dict[str, dict]:
    """name -> quantize_dynamic keyword arguments."""
    down = [n for n in names if "/output/dense" in n and "attention" not in n]
    up = [n for n in names if "intermediate" in n]

    def layer(i: int) -> list[str]:
        return [n for n in names if f"layer.{i}/" in n or n == f"Attention_{i}"]

    return {
        "all matmuls": {},
        "all but attention": {"op_types_to_quantize": ["MatMul"]},
        "all but FFN down": {"nodes_to_exclude": down},
        "all but FFN down and attention": {"nodes_to_exclude": down, "op_types_to_quantize": ["MatMul"]},
        "FFN up only": {"nodes_to_exclude": [n for n in names if n not in up]},
        "all but layer 0": {"nodes_to_exclude": layer(0)},
        "all but layer 5": {"nodes_to_exclude": layer(5)},
    }


def use_model(embedder: SentenceTransformerEmbedder, path: Path) -> None:
    """Point the embedder's ONNX runner at another model file (same tokenizer, same settings)."""
    import onnxruntime as ort

    old = embedder._runner._session
    embedder._runner._session = ort.InferenceSession(
        str(path), old.get_session_options(), providers=["CPUExecutionProvider"]
    )


def measure(embedder: SentenceTransformerEmbedder, texts: list[str], reference: np.ndarray) -> dict:
    vectors = embedder.embed(texts)
    cosines = np.sum(vectors * reference, axis=1)
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        embedder.embed(texts[:SPEED_POSTS])
        rates.append(SPEED_POSTS / (time.perf_counter() - started))
    return {
        "posts_per_s_best": round(max(rates), 1),
        "min_cosine": round(float(cosines.min()), 5),
        "mean_cosine": round(float(cosines.mean()), 6),
        "recall_at_10": round(recall_at_10(reference, vectors), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2048)
    args = parser.parse_args()
    texts = sample_tweets(args.posts)
    reference = SentenceTransformerEmbedder(EmbedderConfig(backend="torch", precision="fp32")).embed(texts)
    embedder = SentenceTransformerEmbedder(EmbedderConfig(backend="onnx", precision="fp32"))
    fp32 = embedder._runner.path.parent / FP32_FILE
    rows = {"fp32 (baseline)": measure(embedder, texts, reference)}
    with tempfile.TemporaryDirectory() as scratch:
        for name, options in variants(matmul_names(fp32)).items():
            path = Path(scratch) / f"{len(rows)}.onnx"
            quantize_int8(fp32, path, **options)
            use_model(embedder, path)
            rows[name] = measure(embedder, texts, reference)
    baseline = rows["fp32 (baseline)"]["posts_per_s_best"]
    table = Table("int8 in", "posts/s", "x fp32", "min cos", "mean cos", "recall@10", "passes")
    for name, row in rows.items():
        row["ratio_vs_fp32"] = round(row["posts_per_s_best"] / baseline, 2)
        row["passes"] = row["min_cosine"] >= MIN_COSINE and row["recall_at_10"] >= MIN_RECALL
        table.add_row(
            name,
            f"{row['posts_per_s_best']:.0f}",
            f"{row['ratio_vs_fp32']:.2f}",
            f"{row['min_cosine']:.4f}",
            f"{row['mean_cosine']:.5f}",
            f"{row['recall_at_10']:.3f}",
            "yes" if row["passes"] else "no",
        )
    Console().print(table)
    print(f"{len(texts)} tweets; speed: best of 3 passes over {SPEED_POSTS}; quality against torch fp32")
    payload = {"posts": len(texts), "speed_posts": SPEED_POSTS, "quality_bar": [MIN_COSINE, MIN_RECALL]}
    path = write_result("int8_variants", payload | {"rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
