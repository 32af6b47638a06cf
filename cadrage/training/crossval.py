"""Cross-validation over real-dev, by document, for runs that train on real-dev
(`data.real.train_on_real_dev`).

Once real-dev sentences are training rows, the final model's scores on them are in-sample: tuning
calibration and thresholds on those scores, or reporting a real-dev figure from them, would be
flattering. Instead real-dev's documents are dealt into K folds; for each fold a model is fitted
on everything but that fold and scores it. Those out-of-fold (OOF) scores stand in for real-dev
in tuning, and the real-dev figure reported is the OOF one. real-test is never read here."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cadrage.lexicon import Lexicon
from cadrage.metrics import f1_from_counts, group_bootstrap_weights, group_sums, percentile_interval, ratio
from cadrage.models.artifacts import Calibration
from cadrage.models.heads import HeadOutputs
from cadrage.models.loading import CadrageModel
from cadrage.schema import LabelSchema
from cadrage.scoring import Scorer

log = logging.getLogger("cadrage.train")


def document_folds(rows: list[dict], k: int, seed: int) -> list[int]:
    """The fold (0..k-1) of every row; all sentences of a document share a fold. Documents are
    dealt round-robin from the most author-voice loaded down (ties shuffled by `seed`), so each
    fold gets a share of the few positives, which sit in a handful of parliament blocks."""
    positives: dict[str, int] = {}
    for r in rows:
        positives.setdefault(r["article_id"], 0)
        positives[r["article_id"]] += int(r["loaded"] == 1 and r["voice"] == "author")
    documents = list(positives)
    random.Random(seed).shuffle(documents)
    documents.sort(key=lambda d: -positives[d])  # stable: shuffled order within equal counts
    fold_of = {d: i % k for i, d in enumerate(documents)}
    return [fold_of[r["article_id"]] for r in rows]


def with_weight(rows: list[dict], weight: float) -> list[dict]:
    """Copies of `rows` carrying a training sample weight (read by the linear backend)."""
    return [{**r, "weight": float(weight)} for r in rows]


@dataclass
class OutOfFold:
    """Each real-dev row scored by the fold model that did not see its document."""

    folds: list[int]
    outputs: HeadOutputs  # in real-dev row order
    backends: list  # the fold models, by fold


def out_of_fold(real_dev: list[dict], base_train: list[dict], k: int, seed: int, weight: float,
                fit: Callable[[list[dict]], object]) -> OutOfFold:
    """Fit one model per fold on `base_train` + the other folds' real-dev rows (weighted) with
    `fit(rows) -> backend`, and score the held-out fold with it."""
    folds = document_folds(real_dev, k, seed)
    parts, order, backends = [], [], []
    for fold in range(k):
        held = np.array([i for i, f in enumerate(folds) if f == fold], dtype=np.int64)
        kept = [r for r, f in zip(real_dev, folds) if f != fold]
        log.info("real-dev fold %d/%d: training on %d real-dev rows, scoring %d", fold + 1, k, len(kept), len(held))
        backend = fit(base_train + with_weight(kept, weight))
        parts.append(backend.outputs([real_dev[i]["text"] for i in held]))
        order.append(held)
        backends.append(backend)
    # the parts cover the folds one after the other: argsort maps them back to row order
    return OutOfFold(folds, HeadOutputs.concat(parts).take(np.argsort(np.concatenate(order))), backends)


def flag_figures(rows: list[dict], loaded_pred: np.ndarray, flagged: np.ndarray, n_boot: int = 300,
                 seed: int = 13) -> dict:
    """The product's figures, computed as `python -m eval` does: author-voice loaded F1 (with a
    bootstrap interval over documents), precision, recall, and the flag rate on not-loaded rows."""
    known = np.array([r["loaded"] is not None and (r["loaded"] == 0 or r["voice"] is not None) for r in rows])
    gold = np.array([r["loaded"] == 1 and r["voice"] == "author" for r in rows]) & known
    not_loaded = np.array([r["loaded"] == 0 for r in rows])
    flagged = np.asarray(flagged, dtype=bool)
    counts = np.stack([gold & flagged, known & ~gold & flagged, gold & ~flagged, not_loaded, not_loaded & flagged], 1)
    weights, group_of_row = group_bootstrap_weights([r["article_id"] for r in rows], n_boot, seed)
    per_group = group_sums(counts, group_of_row, weights.shape[1])
    tp, fp, fn, nl, nlf = per_group.sum(0)
    boot = weights @ per_group
    f1_boot = np.where(boot[:, 0] + boot[:, 2] > 0, f1_from_counts(boot[:, 0], boot[:, 1], boot[:, 2]), np.nan)
    loaded_gold = np.array([r["loaded"] == 1 for r in rows])
    return {
        "author_loaded_f1": float(f1_from_counts(tp, fp, fn)),
        "author_loaded_f1_interval": list(percentile_interval(f1_boot)),
        "author_loaded_precision": float(ratio(tp, tp + fp)), "author_loaded_recall": float(ratio(tp, tp + fn)),
        "author_loaded_support": int(tp + fn), "not_loaded_flag_rate": float(ratio(nlf, nl)),
        "loaded_f1": float(f1_from_counts((loaded_gold & loaded_pred).sum(), (~loaded_gold & loaded_pred).sum(),
                                          (loaded_gold & ~loaded_pred).sum())),
    }


# Calibration and thresholds tuned with the real-dev rows of a mask (and the authored dev split)
Tuner = Callable[[np.ndarray], tuple[Calibration, dict]]


def oof_flag_figures(real_dev: list[dict], oof: OutOfFold, schema: LabelSchema, tune: Tuner,
                     lexicon_path: Path, cue_voice: bool = False) -> dict:
    """flag_figures on real-dev, each fold scored end to end (voice rules, lexicon cues, the
    model's re-reading of a sentence's own words) by its own fold model. Twice: with the final
    calibration and thresholds (tuned on every fold's out-of-fold scores, the held-out fold's
    included: what the model ships with, and how the default model's real-dev figure is tuned), and
    under `without_own_fold` with a calibration and thresholds tuned without the fold scored:
    no real-dev label then decides anything about its own sentence."""
    lexicon = Lexicon.from_csv(lexicon_path)
    folds = np.array(oof.folds)
    everything = np.ones(len(real_dev), dtype=bool)
    shipped = [tune(everything)] * len(oof.backends)
    strict = [tune(folds != k) for k in range(len(oof.backends))]
    figures = _fold_flags(real_dev, oof, schema, shipped, lexicon, cue_voice)
    figures["without_own_fold"] = _fold_flags(real_dev, oof, schema, strict, lexicon, cue_voice)
    return figures


def _fold_flags(real_dev: list[dict], oof: OutOfFold, schema: LabelSchema,
                tuned: list[tuple[Calibration, dict]], lexicon: Lexicon, cue_voice: bool) -> dict:
    """flag_figures with fold k scored by its fold model, calibrated and thresholded by tuned[k]."""
    flagged = np.zeros(len(real_dev), dtype=bool)
    loaded = np.zeros(len(real_dev), dtype=bool)
    for fold, (backend, (calibration, thresholds)) in enumerate(zip(oof.backends, tuned)):
        idx = np.flatnonzero(np.array(oof.folds) == fold)
        card = {"schema": schema.to_dict(), "thresholds": thresholds, "cue_voice": cue_voice,
                "calibration": {"coef": calibration.coef, "intercept": calibration.intercept}}
        model = CadrageModel(Path("."), card, backend)  # the lexicon is handed to the Scorer
        # model cues only explain a flag, they never change it: skipped for speed
        scored = Scorer(model, lexicon=lexicon, model_cues=False).score_texts([real_dev[i]["text"] for i in idx])
        flagged[idx] = [s["author_loaded"] for s in scored]
        loaded[idx] = calibration(oof.outputs.loaded_logit[idx]) >= thresholds["loaded"]
    return flag_figures(real_dev, loaded, flagged)
