"""Sentence vectors from a frozen pretrained encoder, as extra features for the linear model.

N-grams learnt from the authored corpus miss framing phrased unlike it; a multilingual encoder's
sentence vector carries what the words mean, not which words they are. The linear backend puts
these vectors beside its n-gram and lexicon columns (`linear.encoder` in the run config), so one
logistic regression per head weighs both. The encoder is never trained here: its files are
copied into the model directory (`encoder/`) so that a saved model is self-contained, and they are
read with safetensors only — a checkpoint that offers nothing but pickled weights is refused.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from cadrage.models.artifacts import ModelLoadError
from cadrage.models.inference import TOKENIZE_CHUNK, HFTokenizerEncoder, default_threads, sorted_batches, torch_threads

ENCODER_DIR = "encoder"
# What a Hugging Face encoder folder needs at inference; nothing else is copied (optimizer states,
# pickled weights, training arguments).
ENCODER_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "sentencepiece.bpe.model", "vocab.txt")


class SentenceEncoder:
    """embed(texts) -> (n, hidden) float32 array of L2-normalised, attention-masked mean token states.

    `remember=True` keeps every vector by text: training fits several models on overlapping rows
    (cross-validation folds) and must not encode them again; scoring leaves it off so that memory
    stays flat however many sentences go through."""

    def __init__(self, directory: str | Path, max_length: int = 128, prefix: str = "",
                 batch_size: int = 32, remember: bool = False):
        # Deferred on purpose: torch and transformers cost seconds, and plain linear models never need them.
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        self.directory = Path(directory)
        if not (self.directory / "model.safetensors").is_file():
            raise ModelLoadError(f"{self.directory}: no model.safetensors (the sentence encoder is read with "
                                 f"safetensors only; pickled weights are never loaded)")
        try:
            config = AutoConfig.from_pretrained(self.directory)
            self.model = AutoModel.from_pretrained(self.directory, config=config, use_safetensors=True,
                                                   add_pooling_layer=False).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(self.directory)
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"{self.directory}: not a usable encoder folder ({type(e).__name__}: {e})") from None
        self.encode = HFTokenizerEncoder(self.tokenizer, max_length)
        self.max_length = max_length
        self.prefix = prefix  # e5 encoders were trained with "query: " before short texts
        self.batch_size = batch_size
        self.threads = default_threads(config)
        self.memo: dict[str, np.ndarray] | None = {} if remember else None

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = list(range(len(texts))) if self.memo is None else [i for i, t in enumerate(texts) if t not in self.memo]
        if todo:
            vectors = self._vectors([texts[i] for i in todo])
            out[todo] = vectors
            if self.memo is not None:
                self.memo.update(zip((texts[i] for i in todo), vectors))
        if self.memo is not None:
            for i, text in enumerate(texts):
                out[i] = self.memo[text]
        return out

    def _vectors(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch_threads(self.threads), torch.inference_mode():
            for start in range(0, len(texts), TOKENIZE_CHUNK):
                ids, mask = self.encode([self.prefix + t for t in texts[start:start + TOKENIZE_CHUNK]])
                for rows, batch_ids, batch_mask in sorted_batches(ids, mask, self.batch_size):
                    m = torch.from_numpy(batch_mask)
                    hidden = self.model(input_ids=torch.from_numpy(batch_ids), attention_mask=m).last_hidden_state
                    weights = m.unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                    out[rows + start] = torch.nn.functional.normalize(pooled, dim=-1).float().numpy()
        return out

    def save(self, model_dir: Path) -> None:
        """Copy the encoder's inference files into `model_dir/encoder`."""
        target = Path(model_dir) / ENCODER_DIR
        target.mkdir(parents=True, exist_ok=True)
        for name in ENCODER_FILES:
            source = self.directory / name
            if source.is_file():
                shutil.copy2(source, target / name)
