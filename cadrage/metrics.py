"""Head metrics, per-label thresholds and loaded-score calibration, shared by train and eval.

Every metric is computed only on rows that carry the label in question (missing = masked)."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_recall_curve

from cadrage.schema import LabelSchema


def technique_matrix(rows: list[dict], schema: LabelSchema) -> tuple[np.ndarray, np.ndarray]:
    """Gold technique indicators (n, T) and the mask of rows that have technique labels."""
    mask = np.array([r.get("techniques") is not None for r in rows], dtype=bool)
    y = np.array([[int(t in (r.get("techniques") or [])) for t in schema.techniques] for r in rows], dtype=int)
    return y.reshape(len(rows), len(schema.techniques)), mask


def best_f1_threshold(y: np.ndarray, scores: np.ndarray, default: float = 0.5) -> float:
    """The score threshold that maximises F1 on (y, scores); `default` when y has no positive."""
    if y.sum() == 0 or y.sum() == len(y):
        return default
    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))
    return float(thresholds[best])


def fit_calibration(y: np.ndarray, scores: np.ndarray) -> dict:
    """Platt scaling of the loaded head (coef/intercept of a 1-D logistic regression)."""
    if len(set(y.tolist())) < 2:
        return {"coef": 1.0, "intercept": 0.0}
    lr = LogisticRegression(C=1e4).fit(np.asarray(scores).reshape(-1, 1), y)
    return {"coef": float(lr.coef_[0, 0]), "intercept": float(lr.intercept_[0])}


def tune_thresholds(rows: list[dict], loaded_prob: np.ndarray, technique_probs: np.ndarray, schema: LabelSchema) -> dict:
    loaded_mask = np.array([r.get("loaded") is not None for r in rows], dtype=bool)
    y_loaded = np.array([r["loaded"] or 0 for r in rows])[loaded_mask]
    y_tech, tech_mask = technique_matrix(rows, schema)
    return {
        "loaded": best_f1_threshold(y_loaded, loaded_prob[loaded_mask]),
        "techniques": {
            t: best_f1_threshold(y_tech[tech_mask, i], technique_probs[tech_mask, i]) for i, t in enumerate(schema.techniques)
        },
    }


def head_metrics(rows: list[dict], loaded_prob, technique_probs, stance_probs, voice_probs, thresholds: dict, schema: LabelSchema) -> dict:
    """Headline metrics per head, plus `macro_f1`: the mean of the four heads' macro-F1
    (loaded F1, technique macro-F1, stance macro-F1, voice macro-F1), used to rank models."""
    m: dict[str, float] = {}
    loaded_mask = np.array([r.get("loaded") is not None for r in rows], dtype=bool)
    if loaded_mask.any():
        y = np.array([r["loaded"] or 0 for r in rows])[loaded_mask]
        pred = (loaded_prob[loaded_mask] >= thresholds["loaded"]).astype(int)
        m["loaded_f1"] = float(f1_score(y, pred, zero_division=0))
        m["loaded_accuracy"] = float(accuracy_score(y, pred))
    y_tech, tech_mask = technique_matrix(rows, schema)
    if tech_mask.any():
        cut = np.array([thresholds["techniques"][t] for t in schema.techniques])
        pred = (technique_probs[tech_mask] >= cut).astype(int)
        present = y_tech[tech_mask].sum(0) > 0
        m["technique_micro_f1"] = float(f1_score(y_tech[tech_mask], pred, average="micro", zero_division=0))
        m["technique_macro_f1"] = float(
            f1_score(y_tech[tech_mask][:, present], pred[:, present], average="macro", zero_division=0)
        ) if present.any() else 0.0
    for name, probs, labels in (("stance", stance_probs, schema.stance_labels), ("voice", voice_probs, schema.voice_labels)):
        mask = np.array([r.get(name) is not None for r in rows], dtype=bool)
        if mask.any():
            gold = [r[name] for r in rows if r.get(name) is not None]
            pred = [labels[i] for i in probs[mask].argmax(1)]
            m[f"{name}_accuracy"] = float(accuracy_score(gold, pred))
            m[f"{name}_macro_f1"] = float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))
    parts = [m[k] for k in ("loaded_f1", "technique_macro_f1", "stance_macro_f1", "voice_macro_f1") if k in m]
    m["macro_f1"] = float(np.mean(parts)) if parts else 0.0
    return m
