"""The sentence-transformers (PyTorch) path: fp32, bf16 autocast on CPU, fp16/bf16 weights on CUDA."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from index.batching import TokenEncoder

TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class TorchRunner:
    """A SentenceTransformer fed padded id batches; returns float32 sentence embeddings.

    On CPU, bf16 runs under autocast (matmuls in bf16, norms and softmax in fp32); it is
    only fast where the CPU has bf16 instructions (``index.cpu.native_bf16``). On CUDA the
    weights themselves are cast to fp16/bf16 and batches are copied from pinned memory.
    """

    def __init__(self, model_dir: Path, device: str, precision: str, threads: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        self._cuda = device.startswith("cuda")
        if not self._cuda:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(model_dir), device=device)
        self.model.eval()
        self._dtype = getattr(torch, TORCH_DTYPES[precision])
        self._autocast = not self._cuda and precision != "fp32"
        if self._cuda and precision != "fp32":
            self.model.to(self._dtype)
        self._device = torch.device(device)
        tokenizer = self.model.tokenizer
        max_length = int(self.model.max_seq_length or 512)
        self.encoder = TokenEncoder(tokenizer.backend_tokenizer, max_length, int(tokenizer.pad_token_id or 0))
        self._type_ids = "token_type_ids" in tokenizer.model_input_names
        dimension = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int((dimension or self.model.get_sentence_embedding_dimension)())

    def device_name(self) -> str:
        """``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu``."""
        if not self._cuda:
            return "cpu"
        index = self._device.index or 0
        return f"cuda:{index} ({self._torch.cuda.get_device_name(index)})"

    def _tensor(self, array: np.ndarray):
        tensor = self._torch.from_numpy(array)
        if self._cuda:  # page-locked host memory: the copy runs as DMA, asynchronously
            return tensor.pin_memory().to(self._device, non_blocking=True)
        return tensor

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        features = {"input_ids": self._tensor(input_ids), "attention_mask": self._tensor(attention_mask)}
        if self._type_ids:
            features["token_type_ids"] = torch.zeros_like(features["input_ids"])
        cast = torch.autocast("cpu", dtype=self._dtype) if self._autocast else contextlib.nullcontext()
        with torch.inference_mode(), cast:
            embeddings = self.model(features)["sentence_embedding"]
        return embeddings.float().cpu().numpy()
