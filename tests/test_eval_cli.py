"""python -m eval end to end: two models trained here plus the lexicon baseline, outputs,
MLflow logging, SemEval data, and the bad inputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, split_overrides

from cadrage.evaluation.cli import main
from cadrage.evaluation.core import HEADLINE

SEMEVAL = ROOT / "tests" / "fixtures" / "semeval" / "fr" / "dev-articles-subtask-3"


@pytest.fixture(scope="module")
def trained(small_splits, tmp_path_factory):
    """A linear and a tiny transformer model trained on the small split, tracked in one MLflow store."""
    from cadrage.training.config import load_config
    from cadrage.training.run import run

    tmp = tmp_path_factory.mktemp("eval_models")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        linear = run(load_config(ROOT / "configs" / "linear.yaml", split_overrides(small_splits, tmp / "linear") + ["tracking.register=true"]))
        tiny = run(load_config(ROOT / "configs" / "tiny.yaml", split_overrides(small_splits, tmp / "tiny") + [
            "model.tiny.vocab_size=800", "training.batch_size=16", "training.epochs=1", "training.max_steps=15"]))
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return {"linear": linear, "tiny": tiny, "uri": uri, "test": small_splits["test"]}


def numeric_leaves(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from numeric_leaves(v, f"{path}.{k}" if path else k)
    else:
        yield path, obj


def test_comparison_of_two_models_and_the_baseline(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    out = tmp_path / "eval"
    args = ["--model", trained["linear"]["model_dir"], "--model", trained["tiny"]["model_dir"],
            "--data", str(trained["test"]), "--out", str(out), "--bootstrap", "200", "--seed", "7"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "| linear |" in table and "| tiny |" in table and "| lexicon_baseline (reference) |" in table

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["schema_version"] == 1
    assert metrics["settings"] == {"bootstrap": 200, "seed": 7, "confidence": 0.95, "ece_bins": 15}
    assert list(metrics["models"]) == ["linear", "tiny", "lexicon_baseline"]
    n_test = sum(1 for _ in open(trained["test"], encoding="utf-8"))
    assert metrics["data"]["n_rows"] == n_test
    for name, block in metrics["models"].items():
        assert set(block["headline"]) == {k for k, _ in HEADLINE}
        for key in ("loaded_f1", "loaded_pr_auc", "loaded_ece", "technique_macro_f1", "voice_accuracy", "hard_negative_fpr"):
            figure = block["headline"][key]
            assert figure["ci_low"] <= figure["value"] + 1e-9 or key == "loaded_ece", (name, key, figure)
            assert figure["ci_low"] <= figure["ci_high"], (name, key, figure)
        assert {"reported", "literal", "factual", "all"} <= set(block["slices"]["hard_negative"])
        assert block["slices"]["topic"] and block["slices"]["source"]
        assert set(block["stance"]["confusion"]) == {"pro_kremlin", "anti_kremlin", "neutral"}
    # DVC-readable: every leaf is a number (or null when undefined)
    for path, value in numeric_leaves(metrics):
        assert value is None or isinstance(value, (int, float)), path

    # the same thresholds on the same split give the numbers training reported
    card = json.loads((Path(trained["linear"]["model_dir"]) / "cadrage.json").read_text())
    linear = metrics["models"]["linear"]
    assert linear["loaded"]["f1"] == pytest.approx(card["metrics"]["test"]["loaded_f1"])
    assert linear["techniques"]["macro_f1"] == pytest.approx(card["metrics"]["test"]["technique_macro_f1"])
    assert linear["stance"]["macro_f1"] == pytest.approx(card["metrics"]["test"]["stance_macro_f1"])
    assert linear["voice"]["model_head_accuracy"] == pytest.approx(card["metrics"]["test"]["voice_accuracy"])

    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert {"loaded_pr_curve.png", "loaded_reliability.png", "confusion_stance_linear.png", "confusion_voice_tiny.png",
            "confusion_stance_lexicon_baseline.png"} <= set(plots)
    assert all((out / "plots" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)

    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert {e["model"] for e in errors} == {"linear", "tiny", "lexicon_baseline"}
    fps = [e for e in errors if e["model"] == "linear" and e["target"] == "loaded" and e["kind"] == "false_positive"]
    assert fps and [e["score"] for e in fps] == sorted((e["score"] for e in fps), reverse=True)
    assert all(e["gold"]["loaded"] == 0 and e["score"] >= e["threshold"] for e in fps)
    fns = [e for e in errors if e["model"] == "linear" and e["target"] == "author_loaded" and e["kind"] == "false_negative"]
    assert all(e["score"] < e["threshold"] or e["predicted"]["voice"] == "reported" for e in fns)

    report = (out / "report.md").read_text()
    assert "## Comparison" in report and "lexicon_baseline (reference)" in report
    assert f"{linear['headline']['loaded_f1']['value']:.3f} [{linear['headline']['loaded_f1']['ci_low']:.3f}," in report
    assert "![loaded_reliability](plots/loaded_reliability.png)" in report
    meta = json.loads((out / "meta.json").read_text())
    assert meta["models"]["linear"]["mlflow_run_id"] == trained["linear"]["run_id"]
    assert meta["models"]["lexicon_baseline"]["is_baseline"] is True

    # logged to each model's training run
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(trained["uri"])
    client = MlflowClient()
    for name in ("linear", "tiny"):
        run_id = trained[name]["run_id"]
        logged = client.get_run(run_id).data.metrics
        assert logged["eval.test.loaded.f1"] == pytest.approx(metrics["models"][name]["loaded"]["f1"])
        assert "eval.test.headline.hard_negative_fpr.ci_high" in logged
        artifacts = {a.path for a in client.list_artifacts(run_id, "eval/test")}
        assert {"eval/test/metrics.json", "eval/test/report.md", "eval/test/plots"} <= artifacts


def test_registry_alias_and_run_id_resolve_to_the_trained_model(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    run_id = trained["linear"]["run_id"]
    subset = tmp_path / "subset.jsonl"  # a few articles are enough here, and quicker
    subset.write_text("".join(open(trained["test"], encoding="utf-8").readlines()[:40]), encoding="utf-8")
    out = tmp_path / "b"
    assert main(["--model", "champion=models:/cadrage@champion", "--model", run_id, "--data", str(subset),
                 "--bootstrap", "50", "--seed", "3", "--no-mlflow", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["models"]) == ["champion", "linear", "lexicon_baseline"]
    # one model reached two ways: identical figures, intervals included (shared, seeded resamples)
    assert metrics["models"]["champion"] == metrics["models"]["linear"]
    assert metrics["models"]["linear"]["headline"]["loaded_f1"]["ci_low"] is not None
    meta = json.loads((out / "meta.json").read_text())
    assert meta["models"]["linear"]["source"] == run_id and meta["models"]["champion"]["mlflow_run_id"] == run_id


def test_label_mismatch_is_reported_and_the_overlap_evaluated(trained, tmp_path, capsys):
    rows = [
        {"text": "Ces prétendus experts répètent en boucle les éléments de langage du Kremlin.", "techniques": ["Doubt", "Slogans"], "stance": "anti_kremlin"},
        {"text": "Le conseil municipal a voté mardi le budget de la piscine.", "techniques": [], "stance": "neutral"},
        {"text": "Une hystérie savamment entretenue par les chaînes d'information a gagné le pays.", "techniques": ["Loaded_Language", "Made_Up_Technique"], "stance": "pro_nato"},
    ]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "eval"
    assert main(["--model", trained["linear"]["model_dir"], "--data", str(data), "--out", str(out), "--bootstrap", "20", "--no-mlflow"]) == 0
    err = capsys.readouterr().err
    assert "['Made_Up_Technique', 'Slogans']" in err and "['pro_nato']" in err
    meta = json.loads((out / "meta.json").read_text())
    labels = meta["models"]["linear"]["labels"]
    assert labels["techniques"]["extra_in_data"] == ["Made_Up_Technique", "Slogans"]
    assert labels["techniques"]["evaluated"] == ["Loaded_Language", "Doubt"]
    assert "Whataboutism" in labels["techniques"]["missing_from_data"]
    assert labels["stance"]["extra_in_data"] == ["pro_nato"]
    assert labels["voice"] == {"evaluated": [], "missing_from_data": [], "extra_in_data": [], "labelled": False}
    metrics = json.loads((out / "metrics.json").read_text())["models"]["linear"]
    assert metrics["stance"]["n"] == 2  # the pro_nato row is left out
    assert metrics["techniques"]["n_labels_evaluated"] == 2
    assert "Made_Up_Technique" not in metrics["techniques"]["per_label"]
    report = (out / "report.md").read_text()
    assert "## Label mismatch" in report and "Made_Up_Technique, Slogans" in report


def test_semeval_folder_is_scored_and_written_in_the_submission_format(trained, tmp_path):
    from cadrage.metrics import semeval_subtask3_f1
    from cadrage.schema import load_schema_file
    from cadrage.semeval import read_subtask3

    out = tmp_path / "eval"
    assert main(["--model", trained["linear"]["model_dir"], "--data", str(SEMEVAL), "--out", str(out), "--bootstrap", "20", "--no-mlflow"]) == 0
    submitted = read_subtask3(out / "subtask3" / "linear.txt")
    gold = read_subtask3(SEMEVAL.parent / "dev-labels-subtask-3.txt")
    assert set(submitted) == set(gold)
    lines = (out / "subtask3" / "linear.txt").read_text().splitlines()
    assert len(lines) == 18 and all(len(line.split("\t")) == 3 for line in lines)
    keys = sorted(gold)
    micro, macro = semeval_subtask3_f1([gold[k] for k in keys], [submitted[k] for k in keys], load_schema_file()["techniques"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["models"]["linear"]["semeval"] == {"n": 18, "micro_f1": pytest.approx(micro), "macro_f1": pytest.approx(macro)}
    assert (out / "subtask3" / "lexicon_baseline.txt").is_file()
    assert "SemEval-2023 Task 3" in (out / "report.md").read_text()


def test_bad_inputs_are_clear_errors(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    model = trained["linear"]["model_dir"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert main(["--model", model, "--data", str(empty), "--out", str(tmp_path / "o")]) == 1
    assert "empty" in capsys.readouterr().err
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text(json.dumps({"text": "Une phrase sans aucune étiquette."}) + "\n", encoding="utf-8")
    assert main(["--model", model, "--data", str(unlabelled), "--out", str(tmp_path / "o")]) == 1
    assert "no row carries a label" in capsys.readouterr().err
    for spec, message in ((str(tmp_path / "nowhere"), "no such directory"), ("models:/cadrage@nope", "does not resolve"),
                          ("0123456789abcdef0123456789abcdef", "cannot load model")):
        assert main(["--model", spec, "--data", str(trained["test"]), "--out", str(tmp_path / "o")]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()

    # the module entry point answers the same way
    proc = subprocess.run([sys.executable, "-m", "eval", "--model", model, "--data", str(tmp_path / "missing.jsonl")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "no such file" in proc.stderr
