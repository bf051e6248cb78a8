"""Prepare what bench/gpu_embedding.py needs on a GPU box that has no network and a 64 MiB upload.

Writes ``<out>/tweets.jsonl`` (real CrisisLexT6 texts spread over all six events, one
JSON string per line) and ``<out>/model``: the packaged all-MiniLM-L6-v2 folder with its
weights stored as fp16 (about 44 MiB instead of 87 MiB; the benchmark casts them back
up for its fp32 runs, so every precision starts from the same weights).

    python bench/gpu_payload.py [--out build/gpu-payload] [--tweets 20000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.embedder import packaged_model_dir
from ingest.crisislex import data_dir, merged_tweets

ROOT = Path(__file__).resolve().parent.parent


def write_tweets(path: Path, count: int) -> int:
    every = [tweet.text for tweet in merged_tweets([data_dir()])]
    chosen = every[:: max(1, len(every) // count)][:count]
    path.write_text("".join(json.dumps(text) + "\n" for text in chosen), encoding="utf-8")
    return len(chosen)


def write_fp16_model(target: Path) -> None:
    from safetensors.torch import load_file, save_file

    source = packaged_model_dir()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors", "README.md", "*.onnx"))
    weights = load_file(str(source / "model.safetensors"))
    save_file(
        {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in weights.items()},
        str(target / "model.safetensors"),
        metadata={"format": "pt"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "gpu-payload")
    parser.add_argument("--tweets", type=int, default=20_000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    count = write_tweets(args.out / "tweets.jsonl", args.tweets)
    write_fp16_model(args.out / "model")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {count} tweets and an fp16 model to {args.out} ({size / 2**20:.1f} MiB in all)")


if __name__ == "__main__":
    main()
