"""Loading a model directory into a `CadrageModel`: the backend named by its card, with the card's
calibration and thresholds. Saving lives in `artifacts.py`."""
from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cadrage.models.artifacts import (
    CARD,
    PICKLE_SUFFIXES,
    Calibration,
    ModelLoadError,
    check_manifest,
    read_card,
    validate_card,
)
from cadrage.lexicon import Lexicon
from cadrage.models.heads import HeadOutputs
from cadrage.models.inference import TransformerBackend
from cadrage.models.linear import load_linear
from cadrage.models.onnx import OnnxExportError, load_onnx_backend, normalize_quantize
from cadrage.schema import LabelSchema


@dataclass
class Predictions:
    loaded: np.ndarray  # (n,) calibrated probability
    techniques: np.ndarray  # (n, T)
    stance: np.ndarray  # (n, S)
    voice: np.ndarray  # (n, V)
    cue_spans: list | None = None  # per sentence [(start, end, confidence)] from a cue head, else None


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
        return Predictions(self.calibration(raw.loaded_logit), raw.techniques, raw.stance, raw.voice, raw.cue_spans)


RUNTIMES = ("torch", "onnx")
LEXICON = "lexicon.csv"


class UnverifiedModelWarning(UserWarning):
    """A model directory written before cadrage recorded a manifest: its files cannot be checked."""


def _schema(card: dict, model_dir: Path) -> LabelSchema:
    try:
        return LabelSchema.from_dict(card["schema"])
    except Exception as e:  # any malformed schema object
        raise ModelLoadError(f"{model_dir / CARD}: unusable 'schema' ({type(e).__name__}: {e})") from None


def _check_lexicon(model_dir: Path) -> None:
    path = model_dir / LEXICON
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing (every model directory holds the lexicon it was trained with)")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
        if not {"expression", "techniques"} <= {h.strip() for h in header}:
            raise ValueError("no 'expression' and 'techniques' columns")
        if not Lexicon.from_csv(path).entries:
            raise ValueError("no entries")
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as e:
        raise ModelLoadError(f"{path}: not a usable lexicon ({e})") from None


def verify_model_dir(model_dir: str | Path, card: dict | None = None) -> dict:
    """Everything about a model directory that can be checked before its weights are read:
    the card's fields and value ranges, the manifest (sha256 of every file), no pickle-style
    file, a readable lexicon. Returns the card; ModelLoadError naming file and reason otherwise.
    A directory saved before manifests existed is accepted with an UnverifiedModelWarning."""
    model_dir = Path(model_dir)
    card = read_card(model_dir) if card is None else card
    # anywhere in the directory: a linear model with an encoder holds an encoder/ folder
    unsafe = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.suffix in PICKLE_SUFFIXES)
    if unsafe:
        raise ModelLoadError(f"{model_dir}: refusing to load pickle-style file(s) {unsafe}; cadrage models use safetensors and skops")
    schema = _schema(card, model_dir)
    validate_card(card, model_dir / CARD, schema.techniques)
    if not check_manifest(model_dir, card):
        warnings.warn(f"{model_dir / CARD}: no manifest (saved by an older cadrage), so its files cannot be checked "
                      f"for damage; retrain or re-save the model to add one", UnverifiedModelWarning, stacklevel=3)
    _check_lexicon(model_dir)
    return card


def load_model(model_dir: str | Path, runtime: str | None = None, quantize: str | None = None, **backend_options: Any) -> CadrageModel:
    """Load a model directory. `runtime` picks how a transformer model runs: "torch" (its default)
    or "onnx" (ONNX Runtime; the directory is exported on first use and cached); an ONNX export
    directory runs on "onnx". `quantize`: None (the directory's own precision), "none" or "int8"
    (ONNX Runtime dynamic quantization). Other options go to the backend: batch_size, threads,
    max_length. Thresholds and calibration come from the card whatever the runtime."""
    model_dir = Path(model_dir)
    card = verify_model_dir(model_dir)
    schema = _schema(card, model_dir)
    runtime = None if runtime in (None, "", "auto") else str(runtime).lower()
    if runtime is not None and runtime not in RUNTIMES:
        raise ModelLoadError(f"unknown runtime {runtime!r} (expected one of {RUNTIMES})")
    try:
        quantize = normalize_quantize(quantize)
    except ValueError as e:
        raise ModelLoadError(str(e)) from None
    kind = card["backend"]
    if kind == "linear":
        if runtime is not None or quantize not in (None, "none"):
            raise ModelLoadError(f"{model_dir}: a linear (scikit-learn) model; runtime/quantize options apply to "
                                 f"transformer models only (train one with configs/tiny.yaml or configs/camembert-base.yaml)")
        backend = load_linear(model_dir, schema)
    elif kind == "transformer" and runtime in (None, "torch"):
        if quantize not in (None, "none"):
            raise ModelLoadError(f"{model_dir}: quantize={quantize!r} needs runtime 'onnx'")
        try:
            backend = TransformerBackend.load(model_dir, schema, **backend_options)
        except ModelLoadError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as e:  # damaged weights, config or tokenizer files
            first = (str(e).strip().splitlines() or [""])[0]
            raise ModelLoadError(f"{model_dir}: cannot load the transformer weights ({type(e).__name__}: {first})") from None
    elif kind in ("transformer", "onnx") and runtime in (None, "onnx"):
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
