"""When the embedded default model is (re)built: absent, or built from other sources."""
from __future__ import annotations

import json

import pytest

import cadrage.training.default_model as default_model


@pytest.fixture
def builds(tmp_path, monkeypatch) -> list[dict]:
    """Point the builder at a temporary project root and record every (fake) training run."""
    calls: list[dict] = []
    monkeypatch.setattr(default_model, "ROOT", tmp_path)
    monkeypatch.setattr(default_model, "params_from_file", lambda path: type("P", (), {"out": "prepared"})())
    monkeypatch.setattr(default_model, "prepared_splits", lambda params: {})
    monkeypatch.setattr(default_model, "write_splits", lambda splits, out: None)

    def fake_run(cfg, dvc_params=None, provenance=None):
        model_dir = tmp_path / cfg.output_dir
        model_dir.mkdir(parents=True, exist_ok=True)
        card = {"backend": "linear", "schema": {}, "thresholds": {}, "provenance": provenance}
        (model_dir / "cadrage.json").write_text(json.dumps(card), encoding="utf-8")
        calls.append(provenance)
        return {"metrics": {"dev": {"loaded_f1": 0.5}}}

    monkeypatch.setattr(default_model, "run", fake_run)
    return calls


def test_built_once_then_reused_then_rebuilt_when_the_sources_change(builds, monkeypatch, capsys):
    monkeypatch.setattr(default_model, "sources_fingerprint", lambda name="default": "corpus-a")
    first = default_model.default_model_dir()
    assert builds == [{"sources": "corpus-a"}]
    assert "no default model yet" in capsys.readouterr().err
    assert default_model.default_model_dir() == first and len(builds) == 1
    monkeypatch.setattr(default_model, "sources_fingerprint", lambda name="default": "corpus-b")
    assert default_model.default_model_dir() == first
    assert builds[-1] == {"sources": "corpus-b"}
    assert "changed since the default model was built" in capsys.readouterr().err


def test_sources_fingerprint_follows_the_corpus(tmp_path, monkeypatch):
    for rel in default_model.SOURCES:
        path = tmp_path / rel
        if "." in path.name:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x", encoding="utf-8")
        else:
            path.mkdir(parents=True)
            (path / "part.jsonl").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(default_model, "ROOT", tmp_path)
    before = default_model.sources_fingerprint()
    (tmp_path / "data" / "authored" / "part.jsonl").write_text('{"text": "x"}', encoding="utf-8")
    assert default_model.sources_fingerprint() != before


def test_linear_is_a_built_in_model_of_its_own(builds, monkeypatch):
    monkeypatch.setattr(default_model, "sources_fingerprint", lambda name="default": f"corpus-{name}")
    linear = default_model.default_model_dir("linear")
    default = default_model.default_model_dir("default")
    assert linear != default and linear.name == "linear"
    assert builds == [{"sources": "corpus-linear"}, {"sources": "corpus-default"}]
    with pytest.raises(ValueError, match="unknown built-in model"):
        default_model.default_model_dir("bert")
