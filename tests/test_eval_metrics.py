"""Evaluation metrics on small examples whose values were computed by hand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from cadrage.evaluation.core import Gold, evaluate_model
from cadrage.evaluation.models import EvalModel
from cadrage.lexicon import DEFAULT_LEXICON_PATH
from cadrage.metrics import (
    bin_index,
    calibration_bins,
    confusion_scores,
    cue_token_counts,
    expected_calibration_error,
    f1_from_counts,
    group_bootstrap_weights,
    percentile_interval,
    semeval_subtask3_f1,
    weighted_average_precision,
)
from cadrage.models.loading import Predictions
from cadrage.schema import LabelSchema


def test_ece_by_hand():
    # bins of width 1/15: {0.10, 0.12} -> bin 1, {0.70, 0.72} -> bin 10, {0.95} -> bin 14
    y = np.array([0, 1, 1, 1, 0])
    p = np.array([0.10, 0.12, 0.70, 0.72, 0.95])
    # (2/5)|0.5 - 0.11| + (2/5)|1 - 0.71| + (1/5)|0 - 0.95| = 0.156 + 0.116 + 0.19
    assert expected_calibration_error(y, p) == pytest.approx(0.462, abs=1e-12)
    bins = calibration_bins(y, p)
    assert bins["count"].tolist() == [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1]
    assert bins["mean_predicted"][1] == pytest.approx(0.11)
    assert bins["fraction_positive"][10] == 1.0
    assert np.isnan(bins["mean_predicted"][0])
    # bins are [k/15, (k+1)/15); 0 goes to the first bin and 1 to the last
    assert bin_index(np.array([0.0, 0.5, 0.999, 1.0])).tolist() == [0, 7, 14, 14]
    assert bin_index(np.array([1 / 15, 2 / 15 - 1e-9])).tolist() == [1, 1]
    # a perfectly calibrated bin has no error
    assert expected_calibration_error(np.array([1, 0]), np.array([0.5, 0.5])) == 0.0


def test_count_formulas_match_scikit_learn():
    rng = np.random.default_rng(0)
    y, d = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    tp, fp, fn = ((y == 1) & (d == 1)).sum(), ((y == 0) & (d == 1)).sum(), ((y == 1) & (d == 0)).sum()
    assert f1_from_counts(tp, fp, fn) == pytest.approx(f1_score(y, d))
    assert f1_from_counts(0, 0, 0) == 0.0
    gold = rng.integers(0, 3, 40)
    pred = rng.integers(0, 3, 40)
    cm = np.zeros((3, 3))
    np.add.at(cm, (gold, pred), 1)
    accuracy, macro = confusion_scores(cm)
    assert accuracy == pytest.approx((gold == pred).mean())
    assert macro == pytest.approx(f1_score(gold, pred, average="macro"))


def test_weighted_average_precision_equals_scikit_learn_with_weights():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(2, 30))
        y, s = rng.integers(0, 2, n), np.round(rng.random(n), 1)  # rounding makes ties
        w = rng.integers(0, 3, (4, n)).astype(float)
        got = weighted_average_precision(y, s, w)
        for b in range(4):
            if (w[b] * y).sum() > 0:
                assert got[b] == pytest.approx(average_precision_score(y, s, sample_weight=w[b]), abs=1e-12)
            else:
                assert np.isnan(got[b])


def test_bootstrap_resamples_groups_and_gives_the_hand_computed_interval():
    # four single-sentence articles, accuracy 3/4. A replicate draws 4 articles; K wrong ones:
    # P(K=4) = 1/256 (acc 0), P(K=3) = 12/256 (acc 0.25), cumulative 5.1 % > 2.5 % -> low = 0.25;
    # P(K=0) = (3/4)^4 = 31.6 % > 2.5 % -> high = 1.0.
    correct = np.array([1.0, 1.0, 1.0, 0.0])
    weights, group_of_row = group_bootstrap_weights(["a", "b", "c", "d"], 20000, seed=13)
    assert weights.shape == (20000, 4) and (weights.sum(1) == 4).all()
    accuracy = weights @ correct[group_of_row] / 4
    assert percentile_interval(accuracy) == (0.25, 1.0)
    # the same seed gives the same replicates
    again, _ = group_bootstrap_weights(["a", "b", "c", "d"], 20000, seed=13)
    assert (again == weights).all()

    # rows of one article travel together: two articles of two rows (both right / both wrong)
    # give replicate accuracies in {0, 0.5, 1} only, never the 0.25 / 0.75 of row resampling
    weights, group_of_row = group_bootstrap_weights(["x", "x", "y", "y"], 500, seed=0)
    rows_correct = np.array([1.0, 1.0, 0.0, 0.0])
    per_group = np.bincount(group_of_row, weights=rows_correct)
    accuracy = weights @ per_group / (weights @ np.bincount(group_of_row))
    assert set(np.round(accuracy, 9)) <= {0.0, 0.5, 1.0}
    assert percentile_interval(accuracy) == (0.0, 1.0)
    assert percentile_interval(np.array([np.nan, np.nan])) == (None, None)


def test_cue_token_overlap():
    text = "Les eurocrates ont préféré les palabres aux décisions."
    gold = [(4, 14), (31, 39)]  # « eurocrates », « palabres »
    predicted = [(4, 18)]  # « eurocrates ont »
    assert cue_token_counts(text, gold, predicted) == (1, 1, 1)
    assert cue_token_counts(text, gold, []) == (0, 0, 2)
    # a span that cuts a word still marks the whole word
    assert cue_token_counts(text, [(4, 14)], [(6, 9)]) == (1, 0, 0)


def test_semeval_scorer_definition():
    classes = ["A", "B", "C", "D"]
    gold = [["A"], ["A", "B"], []]
    pred = [["A"], ["B"], ["C"]]
    # A: tp 1, fn 1 -> 2/3; B: 1; C: tp 0, fp 1 -> 0; D: absent everywhere -> 1 (zero_division=1)
    micro, macro = semeval_subtask3_f1(gold, pred, classes)
    assert micro == pytest.approx(4 / 6)
    assert macro == pytest.approx((2 / 3 + 1 + 0 + 1) / 4)


# ------------------------------------------------------------------------------------------
# A whole evaluation on eight hand-made sentences from four articles
# ------------------------------------------------------------------------------------------
TEXTS = [
    "Une hystérie attisée par quelques commentateurs a gagné les réseaux sociaux.",
    "Le conseil municipal a voté mardi le budget de la piscine.",
    "La préfecture a publié jeudi le calendrier des travaux sur la route départementale.",
    "Les élus ont examiné le rapport de la commission des finances.",
    "Le maire a inauguré la nouvelle médiathèque samedi matin.",
    "La réunion publique a rassemblé une centaine d'habitants.",
    "Le chantier du pont devrait durer dix-huit mois.",
    "Les résultats du recensement seront publiés en juin.",
]
LOADED = [1, 0, 1, 0, 1, 0, 1, 0]
PROB = [0.91, 0.21, 0.81, 0.62, 0.31, 0.11, 0.72, 0.41]  # threshold 0.5: TP TN TP FP FN TN TP TN
TECHNIQUES = [["Loaded_Language"], [], ["Doubt"], [], ["Loaded_Language"], [], ["Loaded_Language", "Doubt"], []]
TECH_PROB = [[0.9, 0.1], [0.1, 0.1], [0.6, 0.8], [0.7, 0.1], [0.1, 0.1], [0.1, 0.1], [0.9, 0.2], [0.1, 0.1]]
STANCE = ["pro_kremlin", "neutral", "anti_kremlin", "neutral", "pro_kremlin", "neutral", "anti_kremlin", "neutral"]
STANCE_PRED = ["pro_kremlin", "neutral", "neutral", "neutral", "anti_kremlin", "neutral", "anti_kremlin", "pro_kremlin"]
VOICE = ["author", "author", "author", "author", "reported", "author", "author", "author"]
HARD = [None, None, None, "literal", "reported", None, None, "factual"]


def _shared_prefix(a: str, b: str) -> int:
    return next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


class StubModel:
    """Fixed predictions for TEXTS, with the attributes eval and the Scorer use."""

    def __init__(self):
        self.schema = LabelSchema(techniques=("Loaded_Language", "Doubt"))
        self.thresholds = {"loaded": 0.5, "techniques": {"Loaded_Language": 0.5, "Doubt": 0.5}}
        self.lexicon_path = Path(DEFAULT_LEXICON_PATH)
        self.card = {"backend": "stub", "name": "stub"}
        self.path = Path(".")

    def predict(self, texts):
        # a sentence with one word cut out (the Scorer's occlusion cues) scores like the sentence
        idx = [TEXTS.index(t) if t in TEXTS else max(range(len(TEXTS)), key=lambda i: _shared_prefix(TEXTS[i], t))
               for t in texts]
        stance = np.array([[float(STANCE_PRED[i] == l) for l in self.schema.stance_labels] for i in idx])
        return Predictions(np.array(PROB)[idx], np.array(TECH_PROB)[idx], stance, np.tile([0.9, 0.1], (len(idx), 1)))


def _rows() -> list[dict]:
    rows = []
    for i, text in enumerate(TEXTS):
        rows.append({
            "id": f"r{i + 1}", "text": text, "article_id": f"a{i // 2 + 1}", "topic": "energy" if i < 4 else "sport",
            "source": None, "loaded": LOADED[i], "techniques": TECHNIQUES[i], "stance": STANCE[i], "voice": VOICE[i],
            "hard_negative": HARD[i],
            # gold cue « hystérie attisée » on the first sentence; the lexicon highlights « hystérie »
            "cues": [{"start": 4, "end": 20, "technique": "Loaded_Language"}] if i == 0 else ([] if i == 1 else None),
        })
    return rows


@pytest.fixture(scope="module")
def hand_evaluation():
    gold = Gold(_rows())
    weights, group_of_row = group_bootstrap_weights([r["article_id"] for r in gold.rows], 20000, seed=13)
    return evaluate_model(EvalModel("stub", "stub", StubModel(), None), gold, weights, group_of_row)


def test_hand_computed_point_estimates(hand_evaluation):
    m = hand_evaluation.metrics
    # loaded: TP 3 (r1 r3 r7), FP 1 (r4), FN 1 (r5)
    assert m["loaded"]["precision"] == pytest.approx(0.75)
    assert m["loaded"]["recall"] == pytest.approx(0.75)
    assert m["loaded"]["f1"] == pytest.approx(0.75)
    # ranking .91 .81 .72 (+) .62 .41 (-) .31 (+): AP = (1 + 1 + 1 + 4/6) / 4; ROC-AUC = 14/16
    assert m["loaded"]["pr_auc"] == pytest.approx((3 + 4 / 6) / 4)
    assert m["loaded"]["roc_auc"] == pytest.approx(14 / 16)
    # every probability in its own 1/15 bin: ECE = mean |y - p|
    assert m["loaded"]["ece"] == pytest.approx((0.09 + 0.21 + 0.19 + 0.62 + 0.69 + 0.11 + 0.28 + 0.41) / 8)
    # techniques: Loaded_Language tp 2 fp 2 fn 1; Doubt tp 1 fp 0 fn 1
    ll, doubt = m["techniques"]["per_label"]["Loaded_Language"], m["techniques"]["per_label"]["Doubt"]
    assert (ll["precision"], ll["recall"], ll["support"]) == (pytest.approx(0.5), pytest.approx(2 / 3), 3)
    assert ll["f1"] == pytest.approx(4 / 7) and doubt["f1"] == pytest.approx(2 / 3) and doubt["support"] == 2
    assert m["techniques"]["micro_f1"] == pytest.approx(6 / 10)
    assert m["techniques"]["macro_f1"] == pytest.approx((4 / 7 + 2 / 3) / 2)
    # stance: 5 of 8 right; F1 pro 0.5, anti 0.5, neutral 0.75
    assert m["stance"]["accuracy"] == pytest.approx(5 / 8)
    assert m["stance"]["macro_f1"] == pytest.approx((0.5 + 0.5 + 0.75) / 3)
    assert m["stance"]["confusion"]["neutral"] == {"pro_kremlin": 1, "anti_kremlin": 0, "neutral": 3}
    # voice: no quotation anywhere, so every final voice is author; r5 is reported
    assert m["voice"]["accuracy"] == pytest.approx(7 / 8)
    assert m["voice"]["macro_f1"] == pytest.approx((14 / 15 + 0) / 2)
    # author-voice loaded: gold r1 r3 r7; flagged r1 r3 r4 r7
    assert m["author_loaded"]["f1"] == pytest.approx(6 / 7)
    # hard negatives r4 (literal, flagged), r5 (reported), r8 (factual): FPR 1/3
    assert m["author_loaded"]["hard_negative_fpr"] == pytest.approx(1 / 3)
    hn = m["slices"]["hard_negative"]
    assert (hn["literal"]["author_loaded_fpr"], hn["factual"]["author_loaded_fpr"], hn["reported"]["author_loaded_fpr"]) == (1.0, 0.0, 0.0)
    assert hn["all"]["n"] == 3
    # topics: energy gold 1 0 1 0 / pred 1 0 1 1 -> F1 0.8; sport gold 1 0 1 0 / pred 0 0 1 0 -> 2/3
    assert m["slices"]["topic"]["energy"]["loaded_f1"] == pytest.approx(0.8)
    assert m["slices"]["topic"]["sport"]["loaded_f1"] == pytest.approx(2 / 3)
    # cues: gold tokens « hystérie attisée », highlighted « hystérie »: tp 1 fn 1
    assert m["cues"]["token_f1"] == pytest.approx(2 / 3)
    assert m["cues"]["n"] == 2


def test_hand_computed_interval(hand_evaluation):
    h = hand_evaluation.headline
    assert h["loaded_f1"]["value"] == pytest.approx(0.75)
    # per article (TP, FP, FN): a1 (1,0,0), a2 (1,1,0), a3 (0,0,1), a4 (1,0,0). Drawing 4 articles:
    # F1 = 1 when only a1/a4 are drawn: P = (1/2)^4 = 6.25 % > 2.5 % -> high = 1.
    # F1 <= 1/3 needs three or four a3: P = (1 + 4) / 256 = 1.95 %; F1 = 0.4 (three a3 and one a1
    # or a4) adds 8/256 -> 5.1 %, so the 2.5 % quantile is 0.4.
    assert (h["loaded_f1"]["ci_low"], h["loaded_f1"]["ci_high"]) == (pytest.approx(0.4), 1.0)
    assert h["loaded_ece"]["value"] == pytest.approx(0.325)
    assert h["hard_negative_fpr"]["value"] == pytest.approx(1 / 3)
    for key, figure in h.items():
        assert figure["ci_low"] is None or figure["ci_low"] <= figure["ci_high"], key


def test_same_seed_same_intervals(hand_evaluation):
    gold = Gold(_rows())
    again = evaluate_model(EvalModel("stub", "stub", StubModel(), None), gold,
                           *group_bootstrap_weights([r["article_id"] for r in gold.rows], 20000, seed=13))
    assert again.headline == hand_evaluation.headline
    other = evaluate_model(EvalModel("stub", "stub", StubModel(), None), gold,
                           *group_bootstrap_weights([r["article_id"] for r in gold.rows], 300, seed=14))
    assert other.headline["loaded_f1"]["value"] == hand_evaluation.headline["loaded_f1"]["value"]
