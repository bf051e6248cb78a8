"""The ONNX Runtime path: the model exported once, offline, into the cache; fp32 or dynamic int8.

The export runs the local sentence-transformers folder through ``torch.onnx.export``
(TorchScript exporter: its graph is the one ONNX Runtime's BERT fusions recognise,
with eager attention), fuses it with ``onnxruntime.transformers.optimizer`` (embedding
+ LayerNorm, multi-head attention, bias + GELU, skip + LayerNorm) and, for int8,
quantises the weight matmuls per channel with ``quantize_dynamic``. Results live in
``<cache>/models/embedder-onnx-<hash>`` where the hash covers the model folder's files,
the recipe below and the onnxruntime version; a half-written export is never used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from index.batching import TokenEncoder

log = logging.getLogger(__name__)
# Bump when the export below changes: it is part of the cache key.
EXPORT_RECIPE = "torchscript-opset17-eager-ortfusion-v1"
FP32_FILE, INT8_FILE = "model.onnx", "model_int8.onnx"
META_FILE, TOKENIZER_FILE = "meta.json", "tokenizer.json"


def onnx_available() -> bool:
    """ONNX Runtime and the onnx package are importable (both are needed to export and run)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def default_cache_dir() -> Path:
    """``$FEEDPULSE_CACHE_DIR/models`` (default ``~/.cache/feedpulse/models``), like deploy/setup.sh."""
    root = os.environ.get("FEEDPULSE_CACHE_DIR") or os.environ.get("FEEDPULSE_CACHE")
    return Path(root or Path.home() / ".cache" / "feedpulse").expanduser() / "models"


def model_hash(model_dir: Path) -> str:
    """sha256 over the relative paths and contents of the model folder's files."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and "onnx" not in p.parts):
        digest.update(str(path.relative_to(model_dir)).encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def export_dir(model_dir: Path, cache_dir: Path) -> Path:
    """Where the export of ``model_dir`` lives (it may not exist yet)."""
    import onnxruntime

    key = f"{model_hash(model_dir)}|{EXPORT_RECIPE}|onnxruntime-{onnxruntime.__version__}"
    return cache_dir / f"embedder-onnx-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def export_fp32(model_dir: Path, target: Path) -> None:
    """Export, fuse and save the fp32 model, its tokenizer and meta.json into ``target``."""
    import torch
    from onnxruntime.transformers.optimizer import MODEL_TYPES, optimize_model
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"})
    model.eval()
    tokenizer = model.tokenizer
    type_ids = "token_type_ids" in tokenizer.model_input_names

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if type_ids:
                features["token_type_ids"] = torch.zeros_like(input_ids)
            return self.model(features)["sentence_embedding"]

    example = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    raw = target / "raw.onnx"
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Wrapped().eval(),
            (example, example),
            str(raw),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    config = model[0].auto_model.config
    model_type = config.model_type if config.model_type in MODEL_TYPES else "bert"
    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    optimize_model(str(raw), model_type=model_type, num_heads=heads, hidden_size=hidden).save_model_to_file(
        str(target / FP32_FILE)
    )
    raw.unlink()
    tokenizer.backend_tokenizer.save(str(target / TOKENIZER_FILE))
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    meta = {
        "source": str(model_dir),
        "dim": int(dimension()),
        "max_seq_length": int(model.max_seq_length or 512),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "recipe": EXPORT_RECIPE,
        "torch": torch.__version__,
    }
    (target / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def quantize_int8(fp32: Path, int8: Path, **options: object) -> None:
    """Dynamic int8: weights per output channel, activations per batch at run time.

    ``options``: more ``quantize_dynamic`` arguments (``bench/int8_variants.py`` leaves
    some matmuls in fp32 with ``nodes_to_exclude``).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = int8.with_name(f"{int8.name}.tmp-{os.getpid()}")
    logging.disable(logging.WARNING)  # the quantiser logs every tensor on the root logger
    try:
        quantize_dynamic(
            str(fp32),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # The fused ops (com.microsoft domain) defeat shape inference; their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            **options,
        )
    finally:
        logging.disable(logging.NOTSET)
    os.replace(tmp, int8)


def prepare(model_dir: Path, cache_dir: Path, int8: bool) -> Path:
    """The cached export of ``model_dir`` (made now if missing); its folder."""
    target = export_dir(model_dir, cache_dir)
    if not (target / META_FILE).is_file():
        log.info("exporting %s to ONNX once, into %s", model_dir, target)
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            export_fp32(model_dir, tmp)
            tmp.rename(target)
        except OSError:
            if not (target / META_FILE).is_file():  # not a lost race with another process
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if int8 and not (target / INT8_FILE).is_file():
        log.info("quantising %s to int8 once", target / FP32_FILE)
        quantize_int8(target / FP32_FILE, target / INT8_FILE)
    return target


class OnnxRunner:
    """An ONNX Runtime CPU session over the cached export; returns float32 sentence embeddings."""

    def __init__(self, model_dir: Path, cache_dir: Path, precision: str, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = prepare(model_dir, cache_dir, int8=precision == "int8")
        meta = json.loads((folder / META_FILE).read_text())
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: ingest shares the cores with the
        # consumer thread, the API and vLLM between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = folder / (INT8_FILE if precision == "int8" else FP32_FILE)
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.encoder = TokenEncoder(tokenizer, meta["max_seq_length"], meta["pad_id"])
        self.dim = int(meta["dim"])
        self.path = path

    def device_name(self) -> str:
        return "cpu"

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        (embeddings,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(embeddings, dtype=np.float32)


def main() -> None:
    """``python -m index.onnx_runner [--int8]``: make the cached export now (deploy/setup.sh)."""
    import argparse

    from index.embedder import packaged_model_dir

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model-dir", type=Path, help="default: the packaged all-MiniLM-L6-v2")
    parser.add_argument("--int8", action="store_true", help="also the int8 model")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    model_dir = args.model_dir or packaged_model_dir()
    cached = (export_dir(model_dir, default_cache_dir()) / META_FILE).is_file()
    folder = prepare(model_dir, default_cache_dir(), int8=args.int8)
    print(f"{'cached' if cached else 'built'} {folder}")


if __name__ == "__main__":
    main()
