"""The model directory: the one place where a cadrage model is written and its card read
(`loading.py` turns a directory into a working model).

    <dir>/cadrage.json      backend, label schema, thresholds, calibration, metrics, config
    <dir>/lexicon.csv       the lexicon the model was trained with (cues are read from it)
    <dir>/linear.skops      scikit-learn backend (skops, never pickle)
    <dir>/model.safetensors + config.json + tokenizer files   transformer backend
    <dir>/model.onnx + config.json + tokenizer files          onnx backend (cadrage export-onnx)

Loading refuses pickle-style files: a model directory is something users download and share.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

CARD = "cadrage.json"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".bin", ".pt", ".pth", ".ckpt")
FORMAT_VERSION = 1


class ModelLoadError(RuntimeError):
    pass


@dataclass
class Calibration:
    """Platt scaling of the loaded head's score, fitted on dev: p = sigmoid(coef * score + intercept)."""

    coef: float = 1.0
    intercept: float = 0.0

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.coef * np.asarray(scores, dtype=np.float64) + self.intercept)))


def save_model_dir(model_dir: str | Path, card: dict, write_weights: Callable[[Path], None], lexicon_path: str | Path) -> Path:
    """Write a complete model directory atomically: into a sibling temp folder, then renamed.
    A failure leaves no half-written directory behind."""
    model_dir = Path(model_dir)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.", dir=model_dir.parent))
    try:
        write_weights(tmp)
        shutil.copyfile(lexicon_path, tmp / "lexicon.csv")
        with open(tmp / CARD, "w", encoding="utf-8") as f:
            json.dump({"format_version": FORMAT_VERSION, **card}, f, ensure_ascii=False, indent=2)
        old = None
        if model_dir.exists():
            old = model_dir.with_name(f".{model_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(model_dir, old)
        os.replace(tmp, model_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model_dir


def read_card(model_dir: str | Path) -> dict:
    model_dir = Path(model_dir)
    if not (model_dir / CARD).is_file():
        raise ModelLoadError(f"{model_dir}: not a cadrage model directory (no {CARD})")
    try:
        with open(model_dir / CARD, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{model_dir / CARD}: unreadable model card ({e})") from None
    for key in ("backend", "schema", "thresholds"):
        if key not in card:
            raise ModelLoadError(f"{model_dir / CARD}: missing '{key}'")
    return card
