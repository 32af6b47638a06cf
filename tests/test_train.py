"""python -m train: configs, both backends, MLflow tracking and registry, safe artifacts, resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, split_overrides

from cadrage.models.artifacts import CARD, MANIFEST, ModelLoadError, build_manifest
from cadrage.models.loading import load_model
from cadrage.training.config import ConfigError, TrainError, load_config
from cadrage.training.run import run

TEXTS = [
    "Le gouvernement a présenté mardi un projet de loi sur l'énergie.",
    "Ces va-t-en-guerre de l'Alliance attisent l'hystérie en feignant de craindre une attaque.",
    "« C'est une provocation », a déclaré le porte-parole du ministère.",
]


def test_unknown_config_key_and_bad_type_are_named():
    with pytest.raises(ConfigError, match="'training.epoch'"):
        load_config(ROOT / "configs" / "tiny.yaml", ["training.epoch=3"])
    with pytest.raises(ConfigError, match="'training.batch_size'"):
        load_config(ROOT / "configs" / "tiny.yaml", ["training.batch_size=many"])
    with pytest.raises(ConfigError, match="'model.backend'"):
        load_config(ROOT / "configs" / "tiny.yaml", ["model.backend=svm"])


def test_every_shipped_config_loads():
    for path in (ROOT / "configs").glob("*.yaml"):
        if path.name != "labels.yaml":
            load_config(path)


@pytest.fixture(scope="module")
def linear_run(trained_linear):
    return trained_linear, Path(trained_linear["tracking_uri"][len("sqlite:///"):]).parent


def test_linear_run_is_tracked_registered_and_reloads_identically(linear_run, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    result, tmp = linear_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    model_dir = Path(result["model_dir"])
    assert sorted(p.name for p in model_dir.iterdir()) == ["cadrage.json", "lexicon.csv", "linear.skops"]
    card = json.loads((model_dir / "cadrage.json").read_text())
    assert set(card["thresholds"]["techniques"]) == set(card["schema"]["techniques"])
    assert 0 < card["metrics"]["dev"]["loaded_f1"] <= 1

    from cadrage import tracking

    tracking.setup(os.environ["MLFLOW_TRACKING_URI"])  # tracking and registry: MlflowClient reads both
    client = MlflowClient()
    run_data = client.get_run(result["run_id"]).data
    assert run_data.params["model.backend"] == "linear"
    assert {"dev_loaded_f1", "dev_macro_f1", "test_technique_macro_f1", "test_voice_accuracy"} <= set(run_data.metrics)
    assert run_data.tags["dataset_fingerprint"] == card["dataset_fingerprint"]
    version = client.get_model_version_by_alias("cadrage", "champion")
    assert version.run_id == result["run_id"]

    from cadrage.tracking import resolve_model_dir

    in_memory = load_model(model_dir).predict(TEXTS)
    reloaded = load_model(resolve_model_dir("models:/cadrage@champion")).predict(TEXTS)
    for field in ("loaded", "techniques", "stance", "voice"):
        np.testing.assert_allclose(getattr(in_memory, field), getattr(reloaded, field), rtol=0, atol=1e-12)

    served = mlflow.pyfunc.load_model("models:/cadrage@champion").predict(
        __import__("pandas").DataFrame({"text": TEXTS, "unit": ["sentence"] * 3})
    )
    np.testing.assert_allclose(served["loaded"].to_numpy(), np.round(in_memory.loaded, 4), atol=1e-9)


def test_weaker_model_becomes_challenger(linear_run, small_splits, monkeypatch):
    result, tmp = linear_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    weak = run(load_config(ROOT / "configs" / "linear.yaml", split_overrides(small_splits, tmp / "weak") + [
        "tracking.register=true", "linear.C=0.0001", "linear.max_features=50", "name=weak"]))
    assert weak["registry"]["alias"] == "challenger"
    assert weak["registry"]["previous_champion_dev_macro_f1"] == pytest.approx(result["metrics"]["dev"]["macro_f1"])


def test_champion_trained_on_other_data_is_rescored_on_the_new_dev_split(small_splits, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    first = run(load_config(ROOT / "configs" / "linear.yaml", split_overrides(small_splits, tmp_path / "first") + [
        "tracking.register=true", "name=first"]))
    assert first["registry"]["alias"] == "champion"
    # Same dev split, smaller training set: another dataset fingerprint.
    rows = small_splits["train"].read_text(encoding="utf-8").splitlines()
    fewer = tmp_path / "train-fewer.jsonl"
    fewer.write_text("\n".join(rows[: len(rows) // 2]) + "\n", encoding="utf-8")
    second = run(load_config(ROOT / "configs" / "linear.yaml", split_overrides({**small_splits, "train": fewer}, tmp_path / "second") + [
        "tracking.register=true", "name=second"]))
    registry = second["registry"]
    assert registry["previous_champion_scored_on"].startswith("this run's dev split (rescored")
    # rescored on the very dev split it was first scored on: the same figure, recomputed
    assert registry["previous_champion_dev_macro_f1"] == pytest.approx(first["metrics"]["dev"]["macro_f1"], abs=1e-9)
    expected = "champion" if registry["dev_macro_f1"] > registry["previous_champion_dev_macro_f1"] else "challenger"
    assert registry["alias"] == expected


def test_loading_refuses_pickle_files(linear_run, tmp_path):
    import shutil

    result, _ = linear_run
    copy = tmp_path / "model"
    shutil.copytree(result["model_dir"], copy)
    (copy / "extra.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(ModelLoadError, match="pickle"):
        load_model(copy)


def test_linear_model_with_other_lexicon_features_is_refused_at_load(linear_run, tmp_path):
    import shutil

    import skops.io as sio

    from cadrage.models.linear import SKOPS_FILE

    result, _ = linear_run
    copy = tmp_path / "model"
    shutil.copytree(result["model_dir"], copy)
    path = copy / SKOPS_FILE
    state = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    del state["lexicon_features_version"]  # what models saved before the version was recorded hold
    sio.dump(state, path)
    # a consistent directory (its manifest rewritten), so that the version check is what refuses it
    card = json.loads((copy / CARD).read_text(encoding="utf-8"))
    card[MANIFEST] = build_manifest(copy)
    (copy / CARD).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"lexicon features v1, this code computes v2; retrain"):
        load_model(copy)


def test_label_set_not_in_data_is_an_error(small_splits, tmp_path, tracking_uri):
    cfg = load_config(ROOT / "configs" / "linear.yaml", split_overrides(small_splits, tmp_path / "m") + ["data.techniques=[Red_Herring,Doubt]"])
    from cadrage.data import DataError

    with pytest.raises(DataError, match="Red_Herring"):
        run(cfg)
    assert not (tmp_path / "m").exists()


def test_encoder_that_cannot_load_offline_says_how_to_fix(small_splits, tmp_path, tracking_uri, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = load_config(ROOT / "configs" / "camembert-base.yaml", split_overrides(small_splits, tmp_path / "m") + [
        f"model.name={tmp_path / 'no-such-encoder'}"])
    with pytest.raises(TrainError, match="local directory"):
        run(cfg)
    assert not (tmp_path / "m").exists()


def tiny_args(small_splits, out: Path, *extra: str) -> list[str]:
    return ["--config", str(ROOT / "configs" / "tiny.yaml"), *split_overrides(small_splits, out),
            "model.tiny.vocab_size=800", "training.batch_size=16", *extra]


@pytest.mark.slow
def test_tiny_transformer_trains_and_reloads(small_splits, tmp_path, tracking_uri):
    from cadrage.training.cli import main

    assert main(tiny_args(small_splits, tmp_path / "tiny", "training.epochs=2", "tracking.register=true")) == 0
    model_dir = tmp_path / "tiny"
    assert {"model.safetensors", "config.json", "tokenizer.json", "cadrage.json"} <= {p.name for p in model_dir.iterdir()}
    a = load_model(model_dir).predict(TEXTS)
    b = load_model(model_dir).predict(list(reversed(TEXTS)))
    np.testing.assert_allclose(a.techniques, b.techniques[::-1], atol=1e-5)  # batching/sorting keeps rows aligned


@pytest.mark.slow
def test_killed_run_resumes_from_last_checkpoint(small_splits, tmp_path, tracking_uri):
    out = tmp_path / "tiny"
    checkpoints = tmp_path / "tiny.work" / "checkpoints"
    cmd = [sys.executable, "-m", "train", *tiny_args(small_splits, out, "training.epochs=30")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not list(checkpoints.glob("checkpoint-*/trainer_state.json")) and time.time() < deadline:
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.5)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not out.exists()  # no half-written model directory
    done = sorted(int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*"))
    assert done
    resumed = subprocess.run([sys.executable, "-m", "train", *tiny_args(small_splits, out, "training.epochs=2", "training.resume=true")],
                             cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    state = json.loads(sorted(checkpoints.glob("checkpoint-*/trainer_state.json"))[-1].read_text())
    assert state["global_step"] >= max(done)
    assert (out / "model.safetensors").exists()


@pytest.mark.slow
def test_corrupt_checkpoint_is_a_clear_error_without_registry_entry(small_splits, tmp_path, tracking_uri):
    from mlflow import MlflowClient

    from cadrage.training.cli import main

    out = tmp_path / "tiny"
    assert main(tiny_args(small_splits, out, "training.epochs=1")) == 0
    import shutil

    shutil.rmtree(out)
    for ckpt in (tmp_path / "tiny.work" / "checkpoints").glob("checkpoint-*"):
        (ckpt / "model.safetensors").write_bytes(b"not a safetensors file")
    code = main(tiny_args(small_splits, out, "training.epochs=2", "training.resume=true", "tracking.register=true"))
    assert code == 1
    assert not out.exists()
    from cadrage import tracking

    tracking.setup(tracking_uri)
    assert MlflowClient().search_registered_models() == []
