"""Batched transformer scoring: length-sorted batches, dynamic padding, inference_mode.

Sorting by length means each batch pads only to its own longest sentence, which is where most
of the speed-up over one-by-one pipelines comes from on CPU. Tokenization is one batched call
into the Rust tokenizer per chunk of sentences (padded there, to the chunk's longest); each model
batch is then a slice of that matrix, so the hot loop does no per-sentence Python work, and
results are written straight into preallocated arrays at their input positions.

The same batching (`sorted_batches`) feeds the ONNX Runtime backend (models/onnx.py)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from cadrage.models.heads import HeadOutputs, cue_spans_from_tags
from cadrage.schema import LabelSchema

WEIGHTS = "model.safetensors"
DEFAULT_BATCH_SIZE = 32
# Sentences tokenized per call: bounds the padded id matrix (chunk x longest) whatever the input size.
TOKENIZE_CHUNK = 4096
SMALL_HIDDEN = 384


def physical_cores() -> int:
    """Cores to use by default: physical cores (hyper-threads do not help dense matmuls)."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except Exception:  # psutil missing or unable to tell
        n = None
    n = n or os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        n = min(n, len(os.sched_getaffinity(0)))
    return max(1, n)


def default_threads(config) -> int:
    """Intra-op threads for a model: physical cores, but one for small encoders (hidden size below
    384), whose matmuls are too small to gain from splitting and lose badly to thread
    synchronisation when the cores are shared with other work."""
    hidden = getattr(config, "hidden_size", None) or 768
    return 1 if hidden < SMALL_HIDDEN else physical_cores()


def sorted_batches(input_ids: np.ndarray, attention_mask: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row indices, input_ids, attention_mask) per batch of rows of similar length, each batch
    trimmed to its own longest row. Rows must be right-padded."""
    lengths = attention_mask.sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    for begin in range(0, len(order), batch_size):
        rows = order[begin:begin + batch_size]
        width = max(int(lengths[rows[-1]]), 1)  # sorted: the last row is the longest
        yield rows, np.ascontiguousarray(input_ids[rows, :width]), np.ascontiguousarray(attention_mask[rows, :width])


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch intra-op threads set to `n` inside the block only: loading or running a model must not
    change the process's torch settings."""
    import torch

    previous = torch.get_num_threads()
    if previous != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if previous != n:
            torch.set_num_threads(previous)


def empty_outputs(n_techniques: int, n_stance: int, n_voice: int, n: int = 0) -> HeadOutputs:
    return HeadOutputs(np.zeros(n, dtype=np.float64), np.zeros((n, n_techniques), dtype=np.float32),
                       np.zeros((n, n_stance), dtype=np.float32), np.zeros((n, n_voice), dtype=np.float32))


class HFTokenizerEncoder:
    """Batched encoding through a transformers tokenizer: right-padded int64 numpy matrices."""

    def __init__(self, tokenizer, max_length: int):
        self.tokenizer = tokenizer
        self.max_length = max_length
        # CLS pooling reads position 0, and batches are trimmed on the right: pad on the right.
        tokenizer.padding_side = "right"

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding="longest", return_tensors="np")
        return enc["input_ids"].astype(np.int64, copy=False), enc["attention_mask"].astype(np.int64, copy=False)

    def with_offsets(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids, mask and each token's character offsets (n, longest, 2), for a cue head's spans;
        (0, 0) for special and padding tokens."""
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding="longest",
                             return_offsets_mapping=True, return_tensors="np")
        return (enc["input_ids"].astype(np.int64, copy=False), enc["attention_mask"].astype(np.int64, copy=False),
                enc["offset_mapping"])


class TransformerBackend:
    """PyTorch scoring of a MultiTaskModel. Options: batch_size (sentences per forward pass),
    threads (torch intra-op threads while scoring; default: `default_threads`), max_length (tokens)."""

    runtime = "torch"
    quantize = "none"

    def __init__(self, model, tokenizer, max_length: int = 128, batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.encode = HFTokenizerEncoder(tokenizer, max_length)
        self.max_length = max_length
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.threads = int(threads) if threads else default_threads(model.config)

    @classmethod
    def load(cls, directory: Path, schema: LabelSchema, attn_implementation: str | None = None, **options) -> "TransformerBackend":
        # Deferred on purpose: torch and transformers cost seconds, and only transformer models need them.
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoTokenizer

        from cadrage.models.multitask import MultiTaskModel

        directory = Path(directory)
        config = AutoConfig.from_pretrained(directory)
        if attn_implementation:
            config._attn_implementation = attn_implementation
        model = MultiTaskModel.from_encoder_config(
            config, n_techniques=len(schema.techniques), n_stance=len(schema.stance_labels), n_voice=len(schema.voice_labels)
        )
        model.load_state_dict(load_file(str(directory / WEIGHTS)))
        tokenizer = AutoTokenizer.from_pretrained(directory)
        max_length = options.pop("max_length", None) or getattr(config, "cadrage_max_length", 128)
        options = {k: v for k, v in options.items() if v is not None}
        return cls(model, tokenizer, max_length=max_length, **options)

    def outputs(self, texts: list[str]) -> HeadOutputs:
        n = len(texts)
        out = empty_outputs(self.model.techniques.out_features, self.model.stance.out_features, self.model.voice.out_features, n)
        with torch_threads(self.threads):
            self._fill(texts, out)
        return out

    def _fill(self, texts: list[str], out: HeadOutputs) -> None:
        import torch

        n = len(texts)
        cue_head = self.model.cues is not None
        if cue_head:
            out.cue_spans = [[] for _ in range(n)]
        with torch.inference_mode():
            for start in range(0, n, TOKENIZE_CHUNK):
                chunk = list(texts[start:start + TOKENIZE_CHUNK])
                if cue_head:
                    input_ids, attention_mask, offsets = self.encode.with_offsets(chunk)
                else:
                    input_ids, attention_mask = self.encode(chunk)
                for rows, ids, mask in sorted_batches(input_ids, attention_mask, self.batch_size):
                    heads = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
                    at = rows + start
                    out.loaded_logit[at] = heads["loaded_logits"].float().numpy()
                    out.techniques[at] = torch.sigmoid(heads["technique_logits"]).float().numpy()
                    out.stance[at] = torch.softmax(heads["stance_logits"], -1).float().numpy()
                    out.voice[at] = torch.softmax(heads["voice_logits"], -1).float().numpy()
                    if cue_head:
                        probs = torch.softmax(heads["cue_logits"], -1).float().numpy()
                        for k, row in enumerate(rows):
                            out.cue_spans[start + row] = cue_spans_from_tags(probs[k], offsets[row, : ids.shape[1]])
