"""Head metrics, per-label thresholds and loaded-score calibration, shared by train and eval.

Every metric is computed only on rows that carry the label in question (missing = masked)."""
from __future__ import annotations

import re

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


# --------------------------------------------------------------------------------------------
# Evaluation metrics (python -m eval). scikit-learn computes every point estimate it can; what
# follows is what it has no function for: ECE with counts per bin, F1 from summed counts (for
# the bootstrap), the grouped bootstrap itself, token-level cue overlap, the SemEval scorer.
# --------------------------------------------------------------------------------------------
ECE_BINS = 15


def bin_index(prob: np.ndarray, n_bins: int = ECE_BINS) -> np.ndarray:
    """Equal-width bin of each probability: bin k holds [k/n, (k+1)/n); the last bin also holds 1.0."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges[1:-1], np.asarray(prob, dtype=np.float64), side="right"), 0, n_bins - 1)


def calibration_bins(y: np.ndarray, prob: np.ndarray, n_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-width bin: `count`, `mean_predicted` and `fraction_positive` (NaN when empty),
    plus the bin `edges` — the numbers behind a reliability diagram."""
    y = np.asarray(y, dtype=np.float64)
    prob = np.asarray(prob, dtype=np.float64)
    idx = bin_index(prob, n_bins)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    sum_p = np.bincount(idx, weights=prob, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "edges": np.linspace(0.0, 1.0, n_bins + 1),
            "count": count,
            "mean_predicted": np.where(count > 0, sum_p / count, np.nan),
            "fraction_positive": np.where(count > 0, sum_y / count, np.nan),
        }


def ece_from_sums(count: np.ndarray, sum_p: np.ndarray, sum_y: np.ndarray) -> np.ndarray:
    """ECE from per-bin sums (last axis = bins): sum over bins of |sum_y - sum_p| / total count.
    Works on (n_bins,) or (B, n_bins) arrays; NaN when there is no example."""
    total = np.asarray(count).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.abs(np.asarray(sum_y) - np.asarray(sum_p)).sum(-1) / total, np.nan)


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error of a binary probability: sum over 15 equal-width bins of
    (bin count / N) * |fraction of positives in the bin - mean predicted probability in the bin|.
    It compares the positive-class probability with the positive rate (the reliability diagram's
    two axes), not max-class confidence with accuracy."""
    y = np.asarray(y, dtype=np.float64)
    prob = np.asarray(prob, dtype=np.float64)
    if len(y) == 0:
        return float("nan")
    idx = bin_index(prob, n_bins)
    count = np.bincount(idx, minlength=n_bins)
    return float(ece_from_sums(count, np.bincount(idx, weights=prob, minlength=n_bins), np.bincount(idx, weights=y, minlength=n_bins)))


def f1_from_counts(tp, fp, fn) -> np.ndarray:
    """F1 = 2TP / (2TP + FP + FN), 0 where there is neither a positive nor a prediction
    (scikit-learn's zero_division=0). Vectorised over any shape."""
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)


def ratio(num, den) -> np.ndarray:
    """num / den, NaN where den == 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def macro_f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Mean F1 over labels (last axis) that have at least one gold example (tp + fn > 0); NaN
    when none has. Matches f1_score(average='macro') restricted to the labels present in gold."""
    f1 = f1_from_counts(tp, fp, fn)
    present = (np.asarray(tp) + np.asarray(fn)) > 0
    return ratio((f1 * present).sum(-1), present.sum(-1))


def confusion_scores(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, macro-F1 over labels present in gold) from confusion matrices of shape
    (..., L, L) with gold on the rows and predictions on the columns."""
    c = np.asarray(confusion, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    accuracy = ratio(tp.sum(-1), c.sum((-2, -1)))
    return accuracy, macro_f1_from_counts(tp, c.sum(-2) - tp, c.sum(-1) - tp)


def group_bootstrap_weights(groups: list, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample groups (articles) with replacement, `n_boot` times.

    Returns (weights, group_of_row): weights[b, g] = how many times group g was drawn in
    replicate b (each replicate draws as many groups as there are), and the group index of every
    row. A statistic that is a sum over rows becomes weights @ (per-group sums)."""
    codes: dict = {}
    group_of_row = np.array([codes.setdefault(g, len(codes)) for g in groups], dtype=np.int64)
    n_groups = len(codes)
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_boot, n_groups), dtype=np.float64)
    if n_groups:
        draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
        np.add.at(weights, (np.repeat(np.arange(n_boot), n_groups), draws.ravel()), 1.0)
    return weights, group_of_row


def group_sums(values: np.ndarray, group_of_row: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group sums of per-row values (rows on the first axis)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros((n_groups,) + values.shape[1:])
    np.add.at(out, group_of_row, values)
    return out


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval (NaN replicates dropped); (None, None) when none is defined."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return None, None
    alpha = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [alpha, 100 - alpha])
    return float(low), float(high)


_TOKEN = re.compile(r"\w+")


def cue_token_counts(text: str, gold: list[tuple[int, int]], predicted: list[tuple[int, int]]) -> tuple[int, int, int]:
    """(TP, FP, FN) over the word tokens of `text` (\\w+ runs): a token is in a cue when it
    overlaps one of the character spans. Technique names are not compared."""
    tp = fp = fn = 0
    for m in _TOKEN.finditer(text):
        s, e = m.span()
        g = any(a < e and s < b for a, b in gold)
        p = any(a < e and s < b for a, b in predicted)
        tp += g and p
        fp += p and not g
        fn += g and not p
    return tp, fp, fn


def semeval_subtask3_f1(gold: list[list[str]], predicted: list[list[str]], classes: list[str]) -> tuple[float, float]:
    """(micro-F1, macro-F1) as the SemEval-2023 Task 3 subtask-3 scorer defines them: paragraphs
    binarised over the task's full technique list, scikit-learn f1_score with zero_division=1
    (a technique neither in gold nor predicted counts as F1 = 1 in the macro average)."""
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=list(classes))
    mlb.fit([classes])
    known = set(classes)
    y = mlb.transform([[t for t in g if t in known] for g in gold])
    p = mlb.transform([[t for t in q if t in known] for q in predicted])
    return (float(f1_score(y, p, average="micro", zero_division=1)),
            float(f1_score(y, p, average="macro", zero_division=1)))


def weighted_average_precision(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's average_precision_score with sample_weight) for many
    weight vectors at once: weights (B, n) -> (B,), NaN where a row of weights gives no positive.
    Used for bootstrap replicates, where calling scikit-learn B times would dominate the run."""
    y = np.asarray(y, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if y.size == 0:
        return np.full(weights.shape[0], np.nan)
    order = np.argsort(-scores, kind="mergesort")
    s, yw = scores[order], y[order]
    w = weights[:, order]
    # one point per distinct score (the last row of each run of ties), as sklearn's curve does
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(w * yw, axis=1)[:, last]
    fps = np.cumsum(w * (1 - yw), axis=1)[:, last]
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted > 0)
    total = tps[:, -1:]
    recall = np.divide(tps, total, out=np.zeros_like(tps), where=total > 0)
    ap = (np.diff(recall, axis=1, prepend=0.0) * precision).sum(1)
    return np.where(total[:, 0] > 0, ap, np.nan)
