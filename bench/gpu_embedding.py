"""Embedding throughput on a GPU box: fp32 / fp16 / bf16 over a batch sweep, plus FAISS on CPU.

Self-contained: needs only torch and sentence-transformers (faiss-cpu optional), no
network and nothing from this repository. Carry the folder that bench/gpu_payload.py
writes (an fp16 copy of all-MiniLM-L6-v2, about 44 MiB, and 20k real tweets):

    python bench/gpu_embedding.py --model build/gpu-payload/model \\
        --tweets build/gpu-payload/tweets.jsonl [--out $OUT/gpu_embedding.json]
    python bench/gpu_embedding.py --device cpu --posts 500 ...   # smoke test without a GPU

Texts are tokenised once on the CPU (timed: it is part of the end-to-end rate), sorted
by token length into batches, padded per batch and kept in pinned host memory; each
timed pass copies every batch to the device (non-blocking), runs the model and copies
the embeddings back. Quality of fp16/bf16 is measured against fp32 on the same device:
min and mean cosine, recall@10 of each post's neighbours among the first 4096.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def load_texts(path: Path, posts: int) -> list[str]:
    """One tweet per line: a JSON string or {"text": ...} (.jsonl), else plain text; cycled to ``posts``."""
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            item = json.loads(line)
            texts.append(item["text"] if isinstance(item, dict) else str(item))
        else:
            texts.append(line)
    return [texts[i % len(texts)] for i in range(posts)]


def describe_devices(device: str) -> dict:
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "cpu_count": os.cpu_count(),
        "device": device,
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        info |= {
            "gpu": props.name,
            "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "capability": f"{props.major}.{props.minor}",
            "gpus_visible": torch.cuda.device_count(),
        }
    return info


class Batches:
    """Tokenised once, length-sorted, padded per batch; pinned when the device is CUDA."""

    def __init__(self, model: SentenceTransformer, texts: list[str], batch: int, pin: bool) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(model.max_seq_length or 512))
        started = time.perf_counter()
        ids = [np.asarray(e.ids, dtype=np.int64) for e in tokenizer.encode_batch(texts)]
        self.tokenize_s = time.perf_counter() - started
        self.tokens = float(np.mean([len(row) for row in ids]))
        self.order = np.argsort([len(row) for row in ids], kind="stable")
        pad_id = int(model.tokenizer.pad_token_id or 0)
        self.type_ids = "token_type_ids" in model.tokenizer.model_input_names
        self.batches = []
        for start in range(0, len(ids), batch):
            rows = [ids[i] for i in self.order[start : start + batch]]
            width = max(len(row) for row in rows)
            input_ids = torch.full((len(rows), width), pad_id, dtype=torch.int64)
            mask = torch.zeros((len(rows), width), dtype=torch.int64)
            for r, row in enumerate(rows):
                input_ids[r, : len(row)] = torch.from_numpy(row)
                mask[r, : len(row)] = 1
            if pin:
                input_ids, mask = input_ids.pin_memory(), mask.pin_memory()
            self.batches.append((input_ids, mask))


def run_pass(model: SentenceTransformer, batches: Batches, device: torch.device) -> tuple[float, np.ndarray]:
    """One timed pass over every batch: H2D, forward, D2H. Returns (seconds, vectors in input order)."""
    outputs = []
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    with torch.inference_mode():
        for input_ids, mask in batches.batches:
            features = {
                "input_ids": input_ids.to(device, non_blocking=True),
                "attention_mask": mask.to(device, non_blocking=True),
            }
            if batches.type_ids:
                features["token_type_ids"] = torch.zeros_like(features["input_ids"])
            embedding = model(features)["sentence_embedding"]
            outputs.append(embedding.to("cpu", non_blocking=cuda))
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    sorted_vectors = torch.cat(outputs).float().numpy()
    vectors = np.empty_like(sorted_vectors)
    vectors[batches.order] = sorted_vectors
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return seconds, vectors


def recall_at_10(reference: np.ndarray, vectors: np.ndarray) -> float:
    def top10(x: np.ndarray) -> np.ndarray:
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        return np.argpartition(-sims, 10, axis=1)[:, :10]

    ref, got = top10(reference), top10(vectors)
    return float(np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(ref, got, strict=True)]))


def faiss_rates(vectors: np.ndarray) -> dict | None:
    """FAISS on CPU (IndexFlatIP, as the app uses it): add and k=10 search rates."""
    try:
        import faiss
    except ImportError:
        return None
    index = faiss.IndexFlatIP(vectors.shape[1])
    started = time.perf_counter()
    index.add(vectors)
    add_s = time.perf_counter() - started
    queries = vectors[: min(1000, len(vectors))]
    started = time.perf_counter()
    index.search(queries, 10)
    search_s = time.perf_counter() - started
    return {
        "vectors": len(vectors),
        "add_per_s": round(len(vectors) / add_s),
        "search_queries_per_s": round(len(queries) / search_s),
        "threads": faiss.omp_get_max_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="sentence-transformers folder")
    parser.add_argument(
        "--tweets", type=Path, required=True, help=".jsonl (JSON strings) or .txt, one per line"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--batches", help="default 64,128,...,4096 on CUDA, 64,256 on CPU")
    parser.add_argument("--precisions", help="default fp32,fp16,bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--repeats", type=int, help="timed passes per point, median (default 3, CPU 1)")
    parser.add_argument("--budget-s", type=float, default=420, help="stop the sweep after this long")
    parser.add_argument("--out", type=Path, help="JSON result (default $OUT/gpu_embedding.json or ./)")
    args = parser.parse_args()
    began = time.perf_counter()
    device = torch.device(args.device)
    info = describe_devices(args.device)
    print("devices:", json.dumps(info))
    texts = load_texts(args.tweets, args.posts)
    master = SentenceTransformer(str(args.model), device="cpu").float().eval()
    pin = device.type == "cuda"
    batches_arg = args.batches or ("64,128,256,512,1024,2048,4096" if pin else "64,256")
    batch_sizes = [int(b) for b in batches_arg.split(",")]
    repeats = args.repeats or (3 if pin else 1)
    points, quality, reference = [], {}, None
    for precision in (args.precisions or ("fp32,fp16,bf16" if pin else "fp32")).split(","):
        if device.type == "cpu" and precision == "fp16":
            print("skip fp16 on cpu")
            continue
        model = copy.deepcopy(master).to(device=device, dtype=DTYPES[precision]).eval()
        print(f"{precision}: model on {device} ({info.get('gpu', 'cpu')}), dtype {DTYPES[precision]}")
        quality[precision] = run_pass(model, Batches(model, texts[:4096], 256, pin), device)[1]
        if precision == "fp32":
            reference = quality[precision]
        for batch in batch_sizes:
            if time.perf_counter() - began > args.budget_s:
                print(f"budget of {args.budget_s:.0f}s spent: sweep stopped")
                break
            batches = Batches(model, texts, batch, pin)
            run_pass(model, batches, device)  # warm-up: kernels, allocator, autotuning
            runs = [run_pass(model, batches, device) for _ in range(repeats)]
            seconds = statistics.median(s for s, _ in runs)
            model_rate = len(texts) / seconds
            e2e_rate = len(texts) / (seconds + batches.tokenize_s)
            peak_mib = torch.cuda.max_memory_allocated(device) / 2**20 if pin else 0.0
            points.append(
                {
                    "precision": precision,
                    "batch": batch,
                    "model_posts_per_s": round(model_rate, 1),
                    "end_to_end_posts_per_s": round(e2e_rate, 1),
                    "tokenize_posts_per_s": round(len(texts) / batches.tokenize_s, 1),
                    "peak_gpu_mib": round(peak_mib),
                }
            )
            print(
                f"  batch {batch:5d}: model {model_rate:10,.0f} posts/s   with tokenising {e2e_rate:10,.0f} "
                f"posts/s   tokenising alone {len(texts) / batches.tokenize_s:10,.0f} posts/s"
            )
        del model
        if pin:
            torch.cuda.empty_cache()
    quality_rows = {}
    if reference is not None:
        for precision, vectors in quality.items():
            cosine = (vectors * reference).sum(axis=1)
            quality_rows[precision] = {
                "min_cosine": round(float(cosine.min()), 5),
                "mean_cosine": round(float(cosine.mean()), 6),
                "recall_at_10": round(recall_at_10(reference, vectors), 4),
            }
    plain = SentenceTransformer(str(args.model), device=args.device).float()
    plain.encode(texts[:64], batch_size=32)  # warm-up
    st_started = time.perf_counter()
    plain_vectors = plain.encode(texts[:4096], batch_size=32, normalize_embeddings=True)
    plain_rate = min(4096, len(texts)) / (time.perf_counter() - st_started)
    faiss_result = faiss_rates(np.ascontiguousarray(plain_vectors, dtype=np.float32))
    print("\nprecision  batch   model posts/s   end-to-end posts/s")
    for p in points:
        model_rate, e2e_rate = p["model_posts_per_s"], p["end_to_end_posts_per_s"]
        print(f"{p['precision']:9s} {p['batch']:6d} {model_rate:15,.0f} {e2e_rate:20,.0f}")
    for precision, row in quality_rows.items():
        print(f"quality {precision} vs fp32: {row}")
    print(f"plain ST encode fp32 batch 32, same device: {plain_rate:,.0f} posts/s")
    print(f"faiss (CPU): {faiss_result}")
    best = max(points, key=lambda p: p["model_posts_per_s"]) if points else None
    result = {
        "benchmark": "gpu_embedding",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "posts": len(texts),
        "model": str(args.model),
        "points": points,
        "best": best,
        "quality_vs_fp32": quality_rows,
        "plain_st_fp32_bs32_posts_per_s": round(plain_rate, 1),
        "faiss_cpu": faiss_result,
        "seconds": round(time.perf_counter() - began, 1),
    }
    out = args.out or Path(os.environ.get("OUT", ".")) / "gpu_embedding.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
