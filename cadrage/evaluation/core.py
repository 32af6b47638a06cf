"""Predictions and metrics for one model on one dataset.

Predictions go through `cadrage.scoring.Scorer`, the code path of `cadrage score` and the
pyfunc, so the voice (model + rule layer) and the cue spans evaluated are the ones users see.

Point estimates come from scikit-learn. The 95 % intervals come from a percentile bootstrap
that resamples *groups* (articles) with replacement: sentences of one article are not
independent, and resampling them one by one would give intervals that are too narrow. Every
interval figure is a function of per-row counts (TP/FP/FN, confusion cells, calibration bin
sums), so each replicate is one matrix product; PR-AUC is recomputed per replicate with
sample weights (cadrage.metrics.weighted_average_precision, equal to scikit-learn's
average_precision_score with sample_weight). All models share the same replicates (paired comparison).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from cadrage.evaluation.models import EvalModel
from cadrage.metrics import (
    ECE_BINS,
    bin_index,
    calibration_bins,
    confusion_scores,
    cue_token_counts,
    ece_from_sums,
    expected_calibration_error,
    f1_from_counts,
    group_sums,
    macro_f1_from_counts,
    percentile_interval,
    ratio,
    semeval_subtask3_f1,
    weighted_average_precision,
)
from cadrage.scoring import Scorer

# The figures shown with a confidence interval, in the order of the comparison table.
HEADLINE = (
    ("loaded_f1", "loaded F1"),
    ("loaded_pr_auc", "loaded PR-AUC"),
    ("loaded_ece", "loaded ECE"),
    ("technique_micro_f1", "technique micro-F1"),
    ("technique_macro_f1", "technique macro-F1"),
    ("stance_macro_f1", "stance macro-F1"),
    ("voice_accuracy", "voice accuracy"),
    ("author_loaded_f1", "author-loaded F1"),
    ("hard_negative_fpr", "hard-negative FPR"),
    ("not_loaded_flag_rate", "flag rate, not loaded"),
    ("cue_token_f1", "cue token F1"),
)


def num(x: Any) -> float | None:
    """A JSON-safe float: None for NaN/inf/None."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


@dataclass
class Predicted:
    """One model's predictions on the evaluation rows."""

    loaded_prob: np.ndarray  # (n,)
    loaded_threshold: float
    technique_prob: np.ndarray  # (n, T) in the model's technique order
    technique_thresholds: np.ndarray  # (T,)
    stance_prob: np.ndarray  # (n, S)
    voice_prob: np.ndarray  # (n, V) the model's voice head
    scored: list[dict]  # Scorer records: final voice, cues, techniques above threshold

    @property
    def loaded_pred(self) -> np.ndarray:
        return self.loaded_prob >= self.loaded_threshold

    @property
    def technique_pred(self) -> np.ndarray:
        return self.technique_prob >= self.technique_thresholds

    @cached_property
    def voice_final(self) -> list[str]:
        return [s["voice"] for s in self.scored]

    @cached_property
    def author_loaded_pred(self) -> np.ndarray:
        return self.loaded_pred & np.array([v == "author" for v in self.voice_final], dtype=bool)


class _Precomputed:
    """Hands the Scorer predictions already computed, so each model runs once."""

    def __init__(self, model, texts: list[str], predictions):
        self._model, self._texts, self._predictions = model, texts, predictions
        self.schema, self.thresholds, self.lexicon_path = model.schema, model.thresholds, model.lexicon_path
        self.card = model.card

    def predict(self, texts: list[str]):
        if list(texts) != self._texts:
            return self._model.predict(texts)
        return self._predictions


def predict(model, texts: list[str]) -> Predicted:
    raw = model.predict(texts)
    scored = Scorer(_Precomputed(model, list(texts), raw)).score_texts(list(texts))
    schema = model.schema
    return Predicted(
        loaded_prob=np.asarray(raw.loaded, dtype=np.float64),
        loaded_threshold=float(model.thresholds["loaded"]),
        technique_prob=np.asarray(raw.techniques, dtype=np.float64).reshape(len(texts), len(schema.techniques)),
        technique_thresholds=np.array([float(model.thresholds["techniques"][t]) for t in schema.techniques]),
        stance_prob=np.asarray(raw.stance, dtype=np.float64),
        voice_prob=np.asarray(raw.voice, dtype=np.float64),
        scored=scored,
    )


@dataclass
class Gold:
    """Gold labels as arrays, with a mask per label (rows lacking a label are left out)."""

    rows: list[dict]

    def __post_init__(self) -> None:
        rows = self.rows
        self.n = len(rows)
        self.loaded_mask = np.array([r["loaded"] is not None for r in rows], dtype=bool)
        self.loaded = np.array([int(r["loaded"] or 0) for r in rows], dtype=int)
        # author-voice loaded is known when the row is not loaded, or loaded with a voice label
        self.author_mask = np.array([r["loaded"] is not None and (r["loaded"] == 0 or r["voice"] is not None) for r in rows], dtype=bool)
        self.author_loaded = np.array([int(r["loaded"] == 1 and r["voice"] == "author") for r in rows], dtype=int)
        self.technique_mask = np.array([r["techniques"] is not None for r in rows], dtype=bool)
        self.techniques_seen = sorted({t for r in rows for t in (r["techniques"] or [])})
        self.hard_negative = [r.get("hard_negative") for r in rows]
        self.cue_mask = np.array([r.get("cues") is not None for r in rows], dtype=bool)


@dataclass
class Evaluation:
    model: EvalModel
    predicted: Predicted
    metrics: dict
    headline: dict
    labels: dict
    semeval_predictions: list[dict] | None = None
    reliability: dict = field(default_factory=dict)


def label_overlap(gold: Gold, model: EvalModel) -> dict:
    """Labels the data and the model do not share (reported; metrics use the overlap)."""
    schema = model.model.schema
    if not gold.technique_mask.any():
        techniques = {"evaluated": [], "missing_from_data": [], "extra_in_data": [], "labelled": False}
    else:
        techniques = {
            "evaluated": [t for t in schema.techniques if t in gold.techniques_seen],
            "missing_from_data": [t for t in schema.techniques if t not in gold.techniques_seen],
            "extra_in_data": [t for t in gold.techniques_seen if t not in schema.techniques],
            "labelled": True,
        }
    out = {"techniques": techniques}
    for head, labels in (("stance", schema.stance_labels), ("voice", schema.voice_labels)):
        seen = sorted({r[head] for r in gold.rows if r[head] is not None})
        if not seen:  # the data does not label this head at all: nothing is missing, it is unlabelled
            out[head] = {"evaluated": [], "missing_from_data": [], "extra_in_data": [], "labelled": False}
            continue
        out[head] = {
            "evaluated": [l for l in labels if l in seen],
            "missing_from_data": [l for l in labels if l not in seen],
            "extra_in_data": [l for l in seen if l not in labels],
            "labelled": True,
        }
    return out


class RowStats:
    """Per-row count blocks, summed per group for the bootstrap."""

    def __init__(self, n: int):
        self.n = n
        self.blocks: dict[str, np.ndarray] = {}

    def add(self, name: str, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64).reshape(self.n, -1)
        self.blocks[name] = values

    def replicate(self, weights: np.ndarray, group_of_row: np.ndarray) -> dict[str, np.ndarray]:
        """{block: (B, k) sums} for each bootstrap replicate, and (1, k) for the full data
        when `weights` is all ones."""
        names = list(self.blocks)
        matrix = np.concatenate([self.blocks[k] for k in names], axis=1)
        summed = weights @ group_sums(matrix, group_of_row, weights.shape[1])
        out, start = {}, 0
        for k in names:
            width = self.blocks[k].shape[1]
            out[k] = summed[:, start:start + width]
            start += width
        return out


def headline_from_sums(s: dict[str, np.ndarray], n_stance: int, n_voice: int) -> dict[str, np.ndarray]:
    """Every interval figure (except PR-AUC) from summed count blocks of shape (B, k)."""
    tp, fp, fn = s["loaded"].T
    out = {"loaded_f1": f1_from_counts(tp, fp, fn)}
    b = s["ece"].shape[0]
    e = s["ece"].reshape(b, 3, ECE_BINS)
    out["loaded_ece"] = ece_from_sums(e[:, 0], e[:, 1], e[:, 2])
    ttp, tfp, tfn = s["tech_tp"], s["tech_fp"], s["tech_fn"]
    out["technique_micro_f1"] = f1_from_counts(ttp.sum(1), tfp.sum(1), tfn.sum(1))
    out["technique_macro_f1"] = macro_f1_from_counts(ttp, tfp, tfn) if ttp.shape[1] else np.full(b, np.nan)
    stance_acc, stance_macro = confusion_scores(s["stance"].reshape(b, n_stance, n_stance))
    out["stance_accuracy"], out["stance_macro_f1"] = stance_acc, stance_macro
    voice_acc, voice_macro = confusion_scores(s["voice"].reshape(b, n_voice, n_voice))
    out["voice_accuracy"], out["voice_macro_f1"] = voice_acc, voice_macro
    atp, afp, afn = s["author"].T
    out["author_loaded_f1"] = f1_from_counts(atp, afp, afn)
    hn, hfp = s["hard_negative"].T
    out["hard_negative_fpr"] = ratio(hfp, hn)
    nl, nlf = s["not_loaded"].T
    out["not_loaded_flag_rate"] = ratio(nlf, nl)
    ctp, cfp, cfn = s["cues"].T
    out["cue_token_f1"] = f1_from_counts(ctp, cfp, cfn)
    # an F1 is undefined (NaN) where the (resampled) data holds no gold positive
    for k, positives in (("loaded_f1", tp + fn), ("author_loaded_f1", atp + afn), ("cue_token_f1", ctp + cfn),
                         ("technique_micro_f1", (ttp + tfn).sum(1))):
        out[k] = np.where(positives > 0, out[k], np.nan)
    return out


def evaluate_model(model: EvalModel, gold: Gold, weights: np.ndarray, group_of_row: np.ndarray,
                   level: float = 0.95, task_techniques: list[str] | None = None) -> Evaluation:
    rows = gold.rows
    texts = [r["text"] for r in rows]
    pred = predict(model.model, texts)
    schema = model.model.schema
    labels = label_overlap(gold, model)
    n = gold.n
    stats = RowStats(n)
    m: dict[str, Any] = {}

    # ---- loaded -------------------------------------------------------------------------
    mL = gold.loaded_mask
    y, p, d = gold.loaded[mL], pred.loaded_prob[mL], pred.loaded_pred[mL]
    loaded: dict[str, Any] = {"n": int(mL.sum()), "support": int(y.sum()), "threshold": pred.loaded_threshold}
    if mL.any():
        prec, rec, f1, _ = precision_recall_fscore_support(y, d, average="binary", zero_division=0)
        both = 0 < y.sum() < len(y)
        loaded.update(precision=prec, recall=rec, f1=f1 if y.sum() > 0 else None, accuracy=accuracy_score(y, d),
                      pr_auc=average_precision_score(y, p) if y.sum() > 0 else None,
                      roc_auc=roc_auc_score(y, p) if both else None,
                      ece=expected_calibration_error(y, p), brier=float(np.mean((p - y) ** 2)))
    m["loaded"] = loaded
    yl, dl = gold.loaded, pred.loaded_pred
    stats.add("loaded", np.stack([mL & (yl == 1) & dl, mL & (yl == 0) & dl, mL & (yl == 1) & ~dl], 1))
    idx = bin_index(pred.loaded_prob)
    ece_block = np.zeros((n, 3, ECE_BINS))
    ece_block[np.arange(n), 0, idx] = mL
    ece_block[np.arange(n), 1, idx] = pred.loaded_prob * mL
    ece_block[np.arange(n), 2, idx] = yl * mL
    stats.add("ece", ece_block.reshape(n, -1))
    reliability = {k: v.tolist() for k, v in calibration_bins(y, p).items()} if mL.any() else {}

    # ---- author-voice loaded (the product's flag) ----------------------------------------
    mA = gold.author_mask
    ya, da = gold.author_loaded, pred.author_loaded_pred
    author: dict[str, Any] = {"n": int(mA.sum()), "support": int(ya[mA].sum())}
    if mA.any():
        prec, rec, f1, _ = precision_recall_fscore_support(ya[mA], da[mA], average="binary", zero_division=0)
        negatives = mA & (ya == 0)
        author.update(precision=prec, recall=rec, f1=f1 if ya[mA].sum() > 0 else None,
                      fpr=ratio((da & negatives).sum(), negatives.sum()))
    stats.add("author", np.stack([mA & (ya == 1) & da, mA & (ya == 0) & da, mA & (ya == 1) & ~da], 1))
    hn_mask = np.array([h is not None for h in gold.hard_negative]) & mA & (ya == 0)
    author["hard_negative_fpr"] = ratio((da & hn_mask).sum(), hn_mask.sum())
    stats.add("hard_negative", np.stack([hn_mask, hn_mask & da], 1))
    # Crying wolf: the share of sentences with no framing at all (quoted or not) that get flagged.
    not_loaded = gold.loaded_mask & (gold.loaded == 0)
    author["not_loaded_flag_rate"] = ratio((da & not_loaded).sum(), not_loaded.sum())
    stats.add("not_loaded", np.stack([not_loaded, not_loaded & da], 1))
    m["author_loaded"] = author

    # ---- techniques ---------------------------------------------------------------------
    mT = gold.technique_mask
    T = list(schema.techniques)
    Y = np.array([[int(t in (r["techniques"] or [])) for t in T] for r in rows], dtype=int).reshape(n, len(T))
    D = pred.technique_pred.astype(int)
    evaluated = [T.index(t) for t in labels["techniques"]["evaluated"]]
    tech: dict[str, Any] = {"n": int(mT.sum()), "n_labels_evaluated": len(evaluated),
                            "n_labels_missing_from_data": len(labels["techniques"]["missing_from_data"]),
                            "n_labels_extra_in_data": len(labels["techniques"]["extra_in_data"])}
    if mT.any():
        pr, rc, f1s, sup = precision_recall_fscore_support(Y[mT], D[mT], labels=list(range(len(T))), average=None, zero_division=0)
        tech["per_label"] = {t: {"precision": pr[i], "recall": rc[i], "f1": f1s[i], "support": int(sup[i]),
                                 "predicted": int(D[mT, i].sum())} for i, t in enumerate(T)}
        if evaluated:
            Ye, De = Y[mT][:, evaluated], D[mT][:, evaluated]
            for avg in ("micro", "macro"):
                p_, r_, f_, _ = precision_recall_fscore_support(Ye, De, average=avg, zero_division=0)
                tech.update({f"{avg}_precision": p_, f"{avg}_recall": r_, f"{avg}_f1": f_})
    m["techniques"] = tech
    Ye_all = Y[:, evaluated] * mT[:, None]
    De_all = D[:, evaluated] * mT[:, None]
    stats.add("tech_tp", Ye_all * De_all)
    stats.add("tech_fp", (1 - Ye_all) * De_all)
    stats.add("tech_fn", Ye_all * (1 - De_all))

    # ---- stance and voice ---------------------------------------------------------------
    voice_head = [schema.voice_labels[i] for i in pred.voice_prob.argmax(1)] if n else []
    heads = (
        ("stance", schema.stance_labels, [schema.stance_labels[i] for i in pred.stance_prob.argmax(1)] if n else []),
        ("voice", schema.voice_labels, pred.voice_final),
    )
    for head, label_set, predicted in heads:
        mask = np.array([r[head] in label_set for r in rows], dtype=bool)
        gold_h = [r[head] for r, k in zip(rows, mask) if k]
        pred_h = [q for q, k in zip(predicted, mask) if k]
        block: dict[str, Any] = {"n": int(mask.sum())}
        if mask.any():
            cm = confusion_matrix(gold_h, pred_h, labels=list(label_set))
            block.update(accuracy=accuracy_score(gold_h, pred_h),
                         macro_f1=f1_score(gold_h, pred_h, labels=sorted(set(gold_h)), average="macro", zero_division=0),
                         confusion={g: {q: int(cm[i, j]) for j, q in enumerate(label_set)} for i, g in enumerate(label_set)})
            if head == "voice":
                block["model_head_accuracy"] = accuracy_score(gold_h, [q for q, k in zip(voice_head, mask) if k])
        m[head] = block
        L = len(label_set)
        cells = np.zeros((n, L * L))
        for i, (r, q) in enumerate(zip(rows, predicted)):
            if mask[i]:
                cells[i, label_set.index(r[head]) * L + label_set.index(q)] = 1
        stats.add(head, cells)

    # ---- cue spans ----------------------------------------------------------------------
    mC = gold.cue_mask
    cue_counts = np.zeros((n, 3))
    for i, (r, s) in enumerate(zip(rows, pred.scored)):
        if mC[i]:
            cue_counts[i] = cue_token_counts(r["text"], [(c["start"], c["end"]) for c in r["cues"]],
                                             [(c["start"], c["end"]) for c in s["cues"]])
    ctp, cfp, cfn = cue_counts.sum(0)
    m["cues"] = {"n": int(mC.sum()), "token_precision": ratio(ctp, ctp + cfp), "token_recall": ratio(ctp, ctp + cfn),
                 "token_f1": f1_from_counts(ctp, cfp, cfn) if ctp + cfn > 0 else None}
    stats.add("cues", cue_counts)

    # ---- slices -------------------------------------------------------------------------
    m["slices"] = slices(rows, gold, pred)

    # ---- SemEval-2023 Task 3 scoring ----------------------------------------------------
    semeval_predictions = None
    if task_techniques:
        idx_rows = np.flatnonzero(mT)
        predicted_names = [[T[j] for j in np.flatnonzero(D[i])] for i in range(n)]
        micro, macro = semeval_subtask3_f1([rows[i]["techniques"] for i in idx_rows], [predicted_names[i] for i in idx_rows], task_techniques)
        m["semeval"] = {"n": int(len(idx_rows)), "micro_f1": micro, "macro_f1": macro}
        semeval_predictions = [{"id": r["id"], "techniques": names} for r, names in zip(rows, predicted_names)]

    # ---- intervals ----------------------------------------------------------------------
    n_stance, n_voice = len(schema.stance_labels), len(schema.voice_labels)
    point = headline_from_sums(stats.replicate(np.ones((1, weights.shape[1])), group_of_row), n_stance, n_voice)
    boot = headline_from_sums(stats.replicate(weights, group_of_row), n_stance, n_voice) if len(weights) else {}
    boot["loaded_pr_auc"] = bootstrap_pr_auc(gold, pred, weights, group_of_row)
    values = {
        "loaded_f1": loaded.get("f1"), "loaded_pr_auc": loaded.get("pr_auc"), "loaded_ece": loaded.get("ece"),
        "technique_micro_f1": tech.get("micro_f1"), "technique_macro_f1": tech.get("macro_f1"),
        "stance_macro_f1": m["stance"].get("macro_f1"), "voice_accuracy": m["voice"].get("accuracy"),
        "author_loaded_f1": author.get("f1"), "hard_negative_fpr": author["hard_negative_fpr"],
        "not_loaded_flag_rate": author["not_loaded_flag_rate"], "cue_token_f1": m["cues"]["token_f1"],
    }
    headline = {}
    for key, _ in HEADLINE:
        low, high = percentile_interval(boot[key], level) if key in boot and len(boot[key]) else (None, None)
        value = num(values[key])
        headline[key] = {"value": value, "ci_low": low if value is not None else None, "ci_high": high if value is not None else None}
        # the count-based path must agree with scikit-learn (guards the bootstrap's formulas)
        if key in point and value is not None and np.isfinite(point[key][0]):
            assert abs(point[key][0] - value) < 1e-9, (key, point[key][0], value)
    return Evaluation(model, pred, clean(m), headline, labels, semeval_predictions, reliability)


def bootstrap_pr_auc(gold: Gold, pred: Predicted, weights: np.ndarray, group_of_row: np.ndarray) -> np.ndarray:
    """PR-AUC (average precision) of the loaded probability in each bootstrap replicate."""
    mL = gold.loaded_mask
    if not mL.any() or not len(weights):
        return np.full(len(weights), np.nan)
    return weighted_average_precision(gold.loaded[mL], pred.loaded_prob[mL], weights[:, group_of_row[mL]])


def _slice_figures(idx: np.ndarray, gold: Gold, pred: Predicted) -> dict:
    mL = gold.loaded_mask[idx]
    y, d = gold.loaded[idx][mL], pred.loaded_pred[idx][mL]
    mA = gold.author_mask[idx]
    ya, da = gold.author_loaded[idx][mA], pred.author_loaded_pred[idx][mA]
    out = {
        "n": int(len(idx)),
        "loaded_support": int(y.sum()),
        "loaded_f1": f1_score(y, d, zero_division=0) if y.sum() > 0 else None,
        "loaded_accuracy": accuracy_score(y, d) if len(y) else None,
        "author_loaded_support": int(ya.sum()),
        "author_loaded_f1": f1_score(ya, da, zero_division=0) if ya.sum() > 0 else None,
        "author_loaded_fpr": ratio((da & (ya == 0)).sum(), (ya == 0).sum()),
        "flagged_rate": ratio(pred.author_loaded_pred[idx].sum(), len(idx)),
    }
    return out


def slices(rows: list[dict], gold: Gold, pred: Predicted) -> dict:
    """Figures per topic, per source and per hard-negative kind (plus all hard negatives)."""
    out: dict[str, dict] = {}
    for key in ("topic", "source"):
        values = sorted({r[key] for r in rows if r.get(key) is not None}, key=str)
        out[key] = {str(v): _slice_figures(np.array([i for i, r in enumerate(rows) if r.get(key) == v]), gold, pred) for v in values}
    hard: dict[str, dict] = {}
    kinds = sorted({h for h in gold.hard_negative if h is not None})
    for kind in kinds + (["all"] if kinds else []):
        idx = np.array([i for i, h in enumerate(gold.hard_negative) if h is not None and (kind == "all" or h == kind)])
        neg = gold.author_mask[idx] & (gold.author_loaded[idx] == 0)
        hard[kind] = {
            "n": int(len(idx)),
            "author_loaded_fpr": ratio((pred.author_loaded_pred[idx] & neg).sum(), neg.sum()),
            "loaded_rate": ratio(pred.loaded_pred[idx].sum(), len(idx)),
            "reported_voice_rate": ratio(sum(pred.voice_final[i] == "reported" for i in idx), len(idx)),
        }
    out["hard_negative"] = hard
    return out


def clean(obj: Any) -> Any:
    """Plain JSON types: numpy scalars to float/int, NaN to None."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating, np.ndarray)):
        return num(obj)
    return obj
