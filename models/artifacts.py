"""The model directory: the one place where a cadrage model is saved and loaded.

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
from typing import Any, Callable

import numpy as np

from cadrage.schema import LabelSchema
from models.outputs import HeadOutputs

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


@dataclass
class Predictions:
    loaded: np.ndarray  # (n,) calibrated probability
    techniques: np.ndarray  # (n, T)
    stance: np.ndarray  # (n, S)
    voice: np.ndarray  # (n, V)


class CadrageModel:
    """A loaded model directory: backend outputs plus calibration and thresholds."""

    def __init__(self, path: Path, card: dict, backend: Any):
        self.path = path
        self.card = card
        self.backend = backend
        self.schema = LabelSchema.from_dict(card["schema"])
        self.calibration = Calibration(**card.get("calibration", {}))
        self.thresholds: dict[str, Any] = card["thresholds"]

    @property
    def lexicon_path(self) -> Path:
        return self.path / "lexicon.csv"

    def predict(self, texts: list[str]) -> Predictions:
        raw: HeadOutputs = self.backend.outputs(list(texts))
        return Predictions(self.calibration(raw.loaded_logit), raw.techniques, raw.stance, raw.voice)


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


RUNTIMES = ("torch", "onnx")


def load_model(model_dir: str | Path, runtime: str | None = None, quantize: str | None = None, **backend_options: Any) -> CadrageModel:
    """Load a model directory. `runtime` picks how a transformer model runs: "torch" (its default)
    or "onnx" (ONNX Runtime; the directory is exported on first use and cached); an ONNX export
    directory runs on "onnx". `quantize`: None (the directory's own precision), "none" or "int8"
    (ONNX Runtime dynamic quantization). Other options go to the backend: batch_size, threads,
    max_length. Thresholds and calibration come from the card whatever the runtime."""
    model_dir = Path(model_dir)
    card = read_card(model_dir)
    unsafe = sorted(p.name for p in model_dir.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if unsafe:
        raise ModelLoadError(f"{model_dir}: refusing to load pickle-style file(s) {unsafe}; cadrage models use safetensors and skops")
    schema = LabelSchema.from_dict(card["schema"])
    runtime = None if runtime in (None, "", "auto") else str(runtime).lower()
    if runtime is not None and runtime not in RUNTIMES:
        raise ModelLoadError(f"unknown runtime {runtime!r} (expected one of {RUNTIMES})")
    try:
        from models.onnx import normalize_quantize

        quantize = normalize_quantize(quantize)
    except ValueError as e:
        raise ModelLoadError(str(e)) from None
    kind = card["backend"]
    if kind == "linear":
        if runtime is not None or quantize not in (None, "none"):
            raise ModelLoadError(f"{model_dir}: a linear (scikit-learn) model; runtime/quantize options apply to "
                                 f"transformer models only (train one with configs/tiny.yaml or configs/camembert-base.yaml)")
        from models.linear import load_linear

        backend = load_linear(model_dir, schema)
    elif kind == "transformer" and runtime in (None, "torch"):
        if quantize not in (None, "none"):
            raise ModelLoadError(f"{model_dir}: quantize={quantize!r} needs runtime 'onnx'")
        from models.inference import TransformerBackend

        backend = TransformerBackend.load(model_dir, schema, **backend_options)
    elif kind in ("transformer", "onnx") and runtime in (None, "onnx"):
        from models.onnx import OnnxExportError, load_onnx_backend

        try:
            backend = load_onnx_backend(model_dir, card, schema, quantize=quantize, **backend_options)
        except OnnxExportError as e:
            raise ModelLoadError(str(e)) from None
    elif kind == "onnx":
        raise ModelLoadError(f"{model_dir}: an ONNX export holds no PyTorch weights; use runtime 'onnx' "
                             f"(or the transformer model it was exported from)")
    else:
        raise ModelLoadError(f"{model_dir / CARD}: unknown backend {kind!r}")
    return CadrageModel(model_dir, card, backend)
