"""linear.encoder: a frozen encoder's sentence vectors beside the linear model's n-gram features,
copied into the model directory and read with safetensors only."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, split_overrides

from cadrage.models.artifacts import ModelLoadError
from cadrage.models.embeddings import ENCODER_DIR, SentenceEncoder
from cadrage.models.linear import LinearMultiTask, load_linear, save_linear
from cadrage.schema import label_schema
from cadrage.training.config import ConfigError, load_config

ENTRIES = [["honte", "Loaded_Language", "neutral"]]


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory, corpus_rows) -> Path:
    from cadrage.models.tiny import TinyEncoderConfig, build_tiny_camembert

    cfg = TinyEncoderConfig(vocab_size=400, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    return build_tiny_camembert([r["text"] for r in corpus_rows[::5]], tmp_path_factory.mktemp("enc") / "tiny", cfg)


@pytest.fixture(scope="module")
def rows(corpus_rows) -> list[dict]:
    return corpus_rows[::12]


def model(encoder=None, **kwargs) -> LinearMultiTask:
    return LinearMultiTask(label_schema("default"), ENTRIES, char_ngrams=(2, 3), max_features=2000, encoder=encoder, **kwargs)


def test_vectors_are_unit_length_in_input_order_whatever_the_batching(encoder_dir):
    texts = ["Une phrase courte.", "Une phrase nettement plus longue que la précédente, avec une incise.", "Trois."]
    one = SentenceEncoder(encoder_dir, batch_size=1).embed(texts)
    many = SentenceEncoder(encoder_dir, batch_size=8).embed(texts)
    assert one.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(one, many, atol=1e-5)
    np.testing.assert_allclose(SentenceEncoder(encoder_dir).embed(texts[::-1]), one[::-1], atol=1e-5)
    assert not np.allclose(SentenceEncoder(encoder_dir, prefix="query: ").embed(texts), one)


def test_remembering_encodes_each_text_once(encoder_dir, monkeypatch):
    encoder = SentenceEncoder(encoder_dir, remember=True)
    seen: list[str] = []
    real = encoder._vectors
    monkeypatch.setattr(encoder, "_vectors", lambda texts: seen.extend(texts) or real(texts))
    first = encoder.embed(["a b", "c d"])
    again = encoder.embed(["c d", "e f", "a b"])
    assert seen == ["a b", "c d", "e f"]
    np.testing.assert_array_equal(again[[0, 2]], first[[1, 0]])
    assert SentenceEncoder(encoder_dir).memo is None  # scoring keeps nothing: memory stays flat


def test_the_vectors_are_features_of_every_head_and_survive_save_and_load(encoder_dir, rows, tmp_path):
    texts = [r["text"] for r in rows[:40]]
    plain = model().fit(rows)
    mixed = model(SentenceEncoder(encoder_dir, max_length=64), encoder_weight=3.0).fit(rows)
    assert mixed.heads["loaded"].coef_.shape[1] == plain.heads["loaded"].coef_.shape[1] + 32
    assert np.abs(mixed.heads["loaded"].coef_[0, -32:]).sum() > 0  # the head uses them
    before = mixed.outputs(texts)
    assert not np.allclose(before.loaded_logit, plain.outputs(texts).loaded_logit)

    save_linear(mixed, tmp_path)
    assert (tmp_path / ENCODER_DIR / "model.safetensors").is_file()
    moved = tmp_path.parent / "moved-encoder"
    shutil.move(str(encoder_dir), moved)  # the saved model no longer needs the original folder
    try:
        loaded = load_linear(tmp_path, label_schema("default"))
        after = loaded.outputs(texts)
    finally:
        shutil.move(str(moved), encoder_dir)
    assert loaded.encoder.max_length == 64 and loaded.encoder_weight == 3.0
    np.testing.assert_allclose(after.loaded_logit, before.loaded_logit, atol=1e-6)
    np.testing.assert_allclose(after.voice, before.voice, atol=1e-6)


def test_an_encoder_without_safetensors_is_refused(encoder_dir, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(encoder_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="safetensors only"):
        SentenceEncoder(folder)


def test_a_model_missing_its_encoder_is_a_load_error(encoder_dir, rows, tmp_path):
    save_linear(model(SentenceEncoder(encoder_dir)).fit(rows[:60]), tmp_path)
    shutil.rmtree(tmp_path / ENCODER_DIR)
    with pytest.raises(ModelLoadError, match="encoder"):
        load_linear(tmp_path, label_schema("default"))


def test_pickle_files_are_refused_anywhere_in_a_model_directory(trained_linear, tmp_path):
    from cadrage.models.loading import load_model

    model_dir = tmp_path / "model"
    shutil.copytree(trained_linear["model_dir"], model_dir)
    (model_dir / ENCODER_DIR).mkdir()
    (model_dir / ENCODER_DIR / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(ModelLoadError, match="encoder/pytorch_model.bin"):
        load_model(model_dir)


def test_bad_encoder_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match="encoder_weight"):
        load_config(ROOT / "configs" / "linear-e5.yaml", ["linear.encoder_weight=0"])
    from cadrage.training.run import frozen_encoder

    cfg = load_config(ROOT / "configs" / "linear.yaml", [f"linear.encoder={tmp_path / 'nowhere'}"])
    with pytest.raises(ConfigError, match="linear.encoder"):
        frozen_encoder(cfg)


def test_a_linear_run_with_an_encoder_trains_saves_and_scores(encoder_dir, small_splits, tmp_path, tracking_uri):
    from cadrage.models.loading import load_model
    from cadrage.scoring import Scorer
    from cadrage.training.run import run

    out = tmp_path / "model"
    cfg = load_config(ROOT / "configs" / "linear.yaml", split_overrides(small_splits, out) + [
        f"linear.encoder={encoder_dir}", "linear.char_ngrams=[2,3]", "linear.max_features=5000"])
    result = run(cfg)
    assert (out / ENCODER_DIR / "config.json").is_file()
    texts = ["Le gouvernement a publié son rapport annuel.", "Cette honte absolue révolte tout le pays."]
    loaded = load_model(out)
    scored = Scorer(loaded).score_texts(texts)  # voice re-reading and model cues score variants too
    assert len(scored) == 2 and {r["voice"] for r in scored} <= {"author", "reported"}
    np.testing.assert_allclose([r["loaded"] for r in scored], loaded.predict(texts).loaded, atol=1e-4)
    assert result["metrics"]["dev"]["loaded_f1"] > 0

    # the MLflow pyfunc carries the encoder with the model: what `mlflow models serve` loads
    import mlflow
    import pandas as pd

    shutil.rmtree(out)
    served = mlflow.pyfunc.load_model(f"runs:/{result['run_id']}/model").predict(
        pd.DataFrame({"text": texts, "unit": ["sentence"] * 2}))
    np.testing.assert_allclose(served["loaded"].to_numpy(), [r["loaded"] for r in scored], atol=1e-4)


def test_scoring_threads_are_scoped_to_the_call(encoder_dir):
    import torch

    from cadrage.models.inference import torch_threads

    before = torch.get_num_threads()
    with torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    SentenceEncoder(encoder_dir).embed(["Une phrase."])  # a 32-wide encoder runs on one thread
    assert torch.get_num_threads() == before
