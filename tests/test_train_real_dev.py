"""data.real.train_on_real_dev: real-dev rows in training (weighted), tuning and the real-dev
figure from out-of-fold scores (K folds by document), real-test never read."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, split_overrides

from cadrage import realtext
from cadrage.realtext import RealTextMissing
from cadrage.training import crossval, run as run_module
from cadrage.training.config import ConfigError, load_config
from cadrage.training.crossval import document_folds, flag_figures, with_weight


def row(doc: str, loaded: int = 0, voice: str = "author", text: str = "x") -> dict:
    return {"article_id": doc, "text": text, "loaded": loaded, "voice": voice, "techniques": [], "stance": "neutral"}


def test_folds_keep_documents_whole_and_spread_the_positives():
    rows = [row(f"d{i}", loaded=int(i < 4)) for i in range(10) for _ in range(3)]
    folds = document_folds(rows, 4, seed=13)
    by_doc: dict[str, set[int]] = {}
    for r, f in zip(rows, folds):
        by_doc.setdefault(r["article_id"], set()).add(f)
    assert all(len(f) == 1 for f in by_doc.values())  # a document never straddles two folds
    positive_folds = {next(iter(by_doc[f"d{i}"])) for i in range(4)}
    assert positive_folds == {0, 1, 2, 3}  # the four positive documents land in four folds
    assert folds == document_folds(rows, 4, seed=13)  # deterministic


def test_flag_figures_count_like_eval():
    rows = [row("a", 1), row("a", 1, "reported"), row("b", 0), row("b", 0), row("c", 1)]
    flagged = np.array([True, False, True, False, False])
    loaded = np.array([True, True, True, False, False])
    figures = flag_figures(rows, loaded, flagged, n_boot=50)
    # author-loaded gold: rows 0 and 4; flagged 0 (tp) and 2 (fp): P = R = 1/2
    assert figures["author_loaded_f1"] == pytest.approx(0.5)
    assert figures["not_loaded_flag_rate"] == pytest.approx(0.5)  # one of the two not-loaded rows
    assert figures["loaded_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_weights_are_copies():
    rows = [row("a")]
    weighted = with_weight(rows, 3)
    assert weighted[0]["weight"] == 3.0 and "weight" not in rows[0]


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="train_on_real_dev"):
        load_config(ROOT / "configs" / "tiny.yaml", ["data.real.train_on_real_dev=true"])
    with pytest.raises(ConfigError, match="cv_folds"):
        load_config(ROOT / "configs" / "linear.yaml", ["data.real.train_on_real_dev=true", "data.real.cv_folds=1"])
    with pytest.raises(ConfigError, match="real_dev_weight"):
        load_config(ROOT / "configs" / "linear.yaml", ["data.real.train_on_real_dev=true", "data.real.real_dev_weight=0"])


def test_sample_weight_reaches_the_linear_heads(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    from cadrage.models.linear import LinearMultiTask

    seen: list = []
    original = LogisticRegression.fit
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, X, y, sample_weight=None: (
        seen.append(sample_weight), original(self, X, y, sample_weight=sample_weight))[1])
    from cadrage.schema import label_schema

    schema = label_schema("default", ROOT / "configs" / "labels.yaml")
    texts = ["un texte calme et factuel", "une honte absolue et scandaleuse", "encore un texte calme", "quelle honte scandaleuse"]
    rows = [{**row("a", i % 2, text=t), "weight": 4.0 if i == 0 else 1.0} for i, t in enumerate(texts)]
    LinearMultiTask(schema, [["honte", "Loaded_Language", "neutral"]], max_features=100).fit(rows)
    assert seen and seen[0] is not None and list(seen[0]) == [4.0, 1.0, 1.0, 1.0]


@pytest.fixture()
def fake_real_dev(small_splits) -> list[dict]:
    """Stand-in real-dev rows: authored test-split sentences (the shared real text is not needed)."""
    rows = [json.loads(line) for line in small_splits["test"].read_text(encoding="utf-8").splitlines()]
    return rows[:60]


def test_run_trains_on_real_dev_and_tunes_out_of_fold(small_splits, tmp_path, tracking_uri, monkeypatch, fake_real_dev):
    def no_real_test(split=None, *args, **kwargs):
        raise AssertionError(f"real text read during training: {split}")

    monkeypatch.setattr(realtext, "real_rows", no_real_test)
    monkeypatch.setattr(run_module, "real_dev_rows", lambda: fake_real_dev)
    fitted: list[list[dict]] = []
    original = crossval.out_of_fold

    def spy(real_dev, base_train, k, seed, weight, fit):
        return original(real_dev, base_train, k, seed, weight, lambda rows: (fitted.append(rows), fit(rows))[1])

    monkeypatch.setattr(run_module, "out_of_fold", spy)
    cfg = load_config(ROOT / "configs" / "linear.yaml", split_overrides(small_splits, tmp_path / "model") + [
        "data.real.train_on_real_dev=true", "data.real.tune_on_real_dev=true", "data.real.real_dev_weight=3",
        "data.real.cv_folds=3", "linear.max_features=3000", "linear.char_ngrams=[2,3]"])  # small: fast
    result = run_module.run(cfg)

    real_ids = {r["id"] for r in fake_real_dev}
    assert len(fitted) == 3
    folds = document_folds(fake_real_dev, 3, cfg.data.real.seed)
    for k, rows in enumerate(fitted):
        held_docs = {r["article_id"] for r, f in zip(fake_real_dev, folds) if f == k}
        trained = [r for r in rows if r.get("id") in real_ids]
        assert trained and all(r["weight"] == 3.0 for r in trained)
        assert not {r["article_id"] for r in trained} & held_docs  # the held-out documents stay out
    card = json.loads((Path(result["model_dir"]) / "cadrage.json").read_text())
    assert "real_dev_oof" in card["metrics"] and "real_dev" not in card["metrics"]
    assert card["real_text"]["real_dev_training_rows"] == len(fake_real_dev)
    figures = card["real_text"]["real_dev_oof_flag"]
    assert 0 <= figures["not_loaded_flag_rate"] <= 1 and 0 <= figures["author_loaded_f1"] <= 1


def test_the_shared_real_dev_folds_split_documents():
    try:
        rows = realtext.real_rows("real-dev")
    except RealTextMissing as e:
        pytest.skip(str(e))
    test_docs = set(realtext.read_split()["real-test"])
    folds = document_folds(rows, 5, seed=13)
    assert not {r["article_id"] for r in rows} & test_docs
    for k in range(5):
        held = [r for r, f in zip(rows, folds) if f == k]
        assert any(r["loaded"] == 1 and r["voice"] == "author" for r in held)  # every fold can score the flag


def test_eval_calls_real_dev_in_sample_for_a_model_trained_on_it():
    from types import SimpleNamespace

    from cadrage.evaluation.cli import in_sample_rows
    from cadrage.evaluation.models import EvalModel

    def model(real_text: dict | None) -> EvalModel:
        return EvalModel("m", "m", SimpleNamespace(card={"real_text": real_text} if real_text is not None else {}), None)

    trained = model({"real_dev_training_rows": 836})
    assert in_sample_rows(trained, "real-dev") == 836
    assert in_sample_rows(trained, "real-test") == 0  # real-test is never trained on
    assert in_sample_rows(model({"real_dev_tuning_rows": 836, "real_dev_training_rows": 0}), "real-dev") == 0
    assert in_sample_rows(model(None), "real-dev") == 0  # older cards carry no real_text


def test_out_of_fold_scores_come_back_in_row_order_from_the_model_that_did_not_see_them():
    from cadrage.models.heads import HeadOutputs

    real_dev = [row(f"d{i % 7}", loaded=int(i % 5 == 0), text=str(i)) for i in range(40)]

    class Echo:  # scores a sentence with its own row number; remembers what it was trained on
        def __init__(self, rows):
            self.seen = {r["text"] for r in rows}

        def outputs(self, texts):
            assert not self.seen & set(texts)  # never scores a sentence it trained on
            n = len(texts)
            return HeadOutputs(np.array([float(t) for t in texts]), np.zeros((n, 2)), np.zeros((n, 3)), np.zeros((n, 2)))

    oof = crossval.out_of_fold(real_dev, [], k=3, seed=13, weight=1.0, fit=Echo)
    assert oof.outputs.loaded_logit.tolist() == [float(i) for i in range(40)]
    assert oof.outputs.techniques.shape == (40, 2)
