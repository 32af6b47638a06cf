"""The model directory: the one place where a cadrage model is written and its card read
(`loading.py` turns a directory into a working model).

    <dir>/cadrage.json      backend, label schema, thresholds, calibration, metrics, config
    <dir>/lexicon.csv       the lexicon the model was trained with (cues are read from it)
    <dir>/linear.skops      scikit-learn backend (skops, never pickle)
    <dir>/model.safetensors + config.json + tokenizer files   transformer backend
    <dir>/model.onnx + config.json + tokenizer files          onnx backend (cadrage export-onnx)

Loading refuses pickle-style files: a model directory is something users download and share.
The card holds a `manifest` (sha256 of every other file, written by `save_model_dir`), which
`loading.py` checks before anything is read: a damaged or edited directory is refused.
"""
from __future__ import annotations

import hashlib
import json
import math
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
MANIFEST = "manifest"


class ModelLoadError(RuntimeError):
    """A model directory that cannot be used; the message names the file and the reason, on one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _payload_files(model_dir: Path) -> list[Path]:
    """Every file of a model directory except the card and hidden files, sorted."""
    return sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name != CARD
                  and not any(part.startswith(".") for part in p.relative_to(model_dir).parts))


def build_manifest(model_dir: str | Path) -> dict[str, str]:
    """{relative path: sha256} of every file of a model directory but its card."""
    model_dir = Path(model_dir)
    return {p.relative_to(model_dir).as_posix(): sha256_file(p) for p in _payload_files(model_dir)}


def check_manifest(model_dir: str | Path, card: dict) -> bool:
    """Every file the card's manifest lists is present with its recorded sha256, and nothing else
    is there; ModelLoadError otherwise. False when the card has no manifest (written before
    manifests existed): the caller decides what to do."""
    model_dir = Path(model_dir)
    manifest = card.get(MANIFEST)
    if manifest is None:
        return False
    if not isinstance(manifest, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in manifest.items()):
        raise ModelLoadError(f"{model_dir / CARD}: 'manifest' must map file names to sha256 digests")
    root = model_dir.resolve()
    for name, digest in sorted(manifest.items()):
        path = model_dir / name
        if not path.resolve().is_relative_to(root):
            raise ModelLoadError(f"{model_dir / CARD}: manifest names {name!r}, outside the model directory")
        if not path.is_file():
            raise ModelLoadError(f"{path}: missing (listed in the manifest of {CARD}); the model directory is incomplete")
        try:
            actual = sha256_file(path)
        except OSError as e:
            raise ModelLoadError(f"{path}: unreadable ({e.strerror or e})") from None
        if actual != digest:
            raise ModelLoadError(f"{path}: damaged or modified since the model was saved (sha256 differs from the manifest in {CARD})")
    extra = [p.relative_to(model_dir).as_posix() for p in _payload_files(model_dir)
             if p.relative_to(model_dir).as_posix() not in manifest]
    if extra:
        raise ModelLoadError(f"{model_dir}: file(s) {extra} are not in the manifest of {CARD}; remove them or re-save the model")
    return True


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelLoadError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _probability(value, where: str) -> float:
    x = _number(value, where)
    if not 0.0 <= x <= 1.0:
        raise ModelLoadError(f"{where} must be a probability in [0, 1], got {value!r}")
    return x


def validate_card(card: dict, path: Path, techniques: tuple[str, ...] | list[str] = ()) -> None:
    """format_version, thresholds and calibration of a card are usable; ModelLoadError naming
    `path` and the field otherwise."""
    version = card.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelLoadError(f"{path}: 'format_version' must be an integer, got {version!r}")
    if version > FORMAT_VERSION or version < 1:
        raise ModelLoadError(f"{path}: format_version {version} is not supported by this cadrage "
                             f"(it reads format {FORMAT_VERSION}); upgrade cadrage or re-save the model")
    thresholds = card["thresholds"]
    if not isinstance(thresholds, dict):
        raise ModelLoadError(f"{path}: 'thresholds' must be an object, got {type(thresholds).__name__}")
    _probability(thresholds.get("loaded"), f"{path}: thresholds.loaded")
    per_technique = thresholds.get("techniques", {})
    if not isinstance(per_technique, dict):
        raise ModelLoadError(f"{path}: thresholds.techniques must be an object")
    missing = [t for t in techniques if t not in per_technique]
    if missing:
        raise ModelLoadError(f"{path}: thresholds.techniques lacks {missing}")
    for t, v in per_technique.items():
        _probability(v, f"{path}: thresholds.techniques.{t}")
    calibration = card.get("calibration", {})
    if not isinstance(calibration, dict) or set(calibration) - {"coef", "intercept"}:
        raise ModelLoadError(f"{path}: 'calibration' must be an object with 'coef' and 'intercept'")
    for key, value in calibration.items():
        _number(value, f"{path}: calibration.{key}")


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
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700: others could not read the model
        write_weights(tmp)
        shutil.copyfile(lexicon_path, tmp / "lexicon.csv")
        # The manifest is computed here, for every backend, over what was actually written.
        card = {"format_version": FORMAT_VERSION, **{k: v for k, v in card.items() if k != MANIFEST},
                MANIFEST: build_manifest(tmp)}
        with open(tmp / CARD, "w", encoding="utf-8") as f:
            json.dump(card, f, ensure_ascii=False, indent=2)
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_card(model_dir: str | Path) -> dict:
    model_dir = Path(model_dir)
    if not (model_dir / CARD).is_file():
        raise ModelLoadError(f"{model_dir}: not a cadrage model directory (no {CARD})")
    try:
        with open(model_dir / CARD, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{model_dir / CARD}: unreadable model card ({e})") from None
    if not isinstance(card, dict):
        raise ModelLoadError(f"{model_dir / CARD}: the model card must be a JSON object")
    for key in ("backend", "schema", "thresholds"):
        if key not in card:
            raise ModelLoadError(f"{model_dir / CARD}: missing '{key}'")
    return card
