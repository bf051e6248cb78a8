"""Length-sorted batches: tokenise once, group texts of similar length, restore the order.

Tweets run from 5 to 60+ tokens. A batch in arrival order is padded to its longest
text, so most of its compute is spent on padding; sorted by token length, each
batch pads to within a few tokens of its shortest text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# (input_ids, attention_mask), both int64 (batch, tokens) → float32 (batch, dim).
BatchRunner = Callable[[np.ndarray, np.ndarray], np.ndarray]


class TokenEncoder:
    """A fast (Rust) tokenizer set to truncate, never pad: ``encode`` gives one id array per text."""

    def __init__(self, tokenizer, max_length: int, pad_id: int) -> None:
        from tokenizers import Tokenizer

        # A copy, so the caller's tokenizer keeps its own padding and truncation settings.
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self.pad_id = pad_id
        self.max_length = max_length

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text, special tokens included, at most ``max_length`` each."""
        return [np.asarray(enc.ids, dtype=np.int64) for enc in self._tokenizer.encode_batch(list(texts))]


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices into ``lengths``, shortest first, cut into batches of at most ``batch_size``."""
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def pad(ids: Sequence[np.ndarray], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id arrays to the longest: (input_ids, attention_mask), both int64."""
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, token_ids in enumerate(ids):
        input_ids[row, : len(token_ids)] = token_ids
        mask[row, : len(token_ids)] = 1
    return input_ids, mask


def embed_length_sorted(
    ids: Sequence[np.ndarray], run: BatchRunner, batch_size: int, dim: int, pad_id: int
) -> np.ndarray:
    """Run length-sorted batches through ``run``; rows come back in the input order, L2-normalised."""
    out = np.empty((len(ids), dim), dtype=np.float32)
    for batch in length_sorted_batches([len(row) for row in ids], batch_size):
        input_ids, mask = pad([ids[i] for i in batch], pad_id)
        out[batch] = run(input_ids, mask)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out
