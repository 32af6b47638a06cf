"""ONNX export and ONNX Runtime scoring (fp32 and int8), the batched PyTorch scorer, the
`export-onnx` command, and the scoring benchmark's --quick mode."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from cadrage.models.artifacts import ModelLoadError, save_model_dir
from cadrage.models.loading import load_model

TEXTS = [
    "Le gouvernement a présenté mardi un projet de loi sur l'énergie.",
    "Ces va-t-en-guerre de l'Alliance attisent l'hystérie en feignant de craindre une attaque.",
    "« C'est une provocation », a déclaré le porte-parole du ministère.",
    "Une provocation ?",
    "",
    "Kiev " + "et Moscou échangent des accusations, " * 40 + "selon l'agence.",  # past max_length: truncated
    "Selon les autorités de Donetsk, deux maisons ont été endommagées dans la nuit de lundi à mardi.",
]
FIELDS = ("loaded_logit", "techniques", "stance", "voice")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, corpus_rows):
    """A small MultiTaskModel (random weights, a tokenizer trained on the corpus) saved as a model
    directory with a hand-written card: the same files training writes."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    from cadrage.models.inference import WEIGHTS
    from cadrage.models.multitask import MultiTaskModel
    from cadrage.models.tiny import TinyEncoderConfig, build_tiny_camembert
    from cadrage.schema import label_schema

    tmp = tmp_path_factory.mktemp("onnx")
    encoder_dir = build_tiny_camembert([r["text"] for r in corpus_rows[:600]], tmp / "encoder",
                                       TinyEncoderConfig(vocab_size=800, hidden_size=64, num_hidden_layers=2,
                                                         num_attention_heads=2, intermediate_size=128, max_position_embeddings=66))
    schema = label_schema("default")
    torch.manual_seed(3)
    model = MultiTaskModel.from_pretrained_encoder(str(encoder_dir), n_techniques=len(schema.techniques),
                                                   n_stance=len(schema.stance_labels), n_voice=len(schema.voice_labels)).eval()
    with torch.no_grad():  # spread the head outputs so that probabilities are not all ~0.5
        for head in (model.techniques, model.loaded, model.stance, model.voice):
            head.weight.mul_(40)
    model.encoder.config.cadrage_max_length = 48
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    card = {
        "backend": "transformer", "name": "onnx-test", "schema": schema.to_dict(),
        "thresholds": {"loaded": 0.5, "techniques": {t: 0.5 for t in schema.techniques}},
        "calibration": {"coef": 1.3, "intercept": -0.2},
    }

    def write(directory):
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(directory / WEIGHTS))
        model.encoder.config.save_pretrained(directory)
        tokenizer.save_pretrained(directory)

    return save_model_dir(tmp / "tiny", card, write, ROOT / "data" / "lexicon.csv")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CADRAGE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def onnx_dirs(tiny_dir, tmp_path_factory):
    from cadrage.models.onnx import export_onnx, quantize_onnx_dir

    out = tmp_path_factory.mktemp("exports")
    fp32 = export_onnx(tiny_dir, out / "fp32")
    return fp32, quantize_onnx_dir(fp32, out / "int8")


def test_onnx_fp32_matches_pytorch(tiny_dir, onnx_dirs):
    torch_model, onnx_model = load_model(tiny_dir), load_model(onnx_dirs[0])
    assert type(onnx_model.backend).__name__ == "OnnxBackend"
    a, b = torch_model.backend.outputs(TEXTS), onnx_model.backend.outputs(TEXTS)
    for field in FIELDS:
        assert getattr(a, field).shape == getattr(b, field).shape
        np.testing.assert_allclose(getattr(b, field), getattr(a, field), atol=1e-4, rtol=0, err_msg=field)
    assert a.techniques.min() < 0.2 and a.techniques.max() > 0.8  # the comparison covers the whole range
    pa, pb = torch_model.predict(TEXTS), onnx_model.predict(TEXTS)
    np.testing.assert_allclose(pb.loaded, pa.loaded, atol=1e-4, rtol=0)
    # the card keeps what makes predictions: thresholds and calibration
    assert onnx_model.thresholds == torch_model.thresholds
    assert onnx_model.calibration == torch_model.calibration


def test_onnx_runtime_on_transformer_dir_exports_once_and_matches(tiny_dir, tmp_path):
    from cadrage.models.onnx import cache_root

    first = load_model(tiny_dir, runtime="onnx")
    cached = sorted((cache_root() / "onnx").iterdir())
    assert len(cached) == 1
    again = load_model(tiny_dir, runtime="onnx")  # reuses the cached export
    assert sorted((cache_root() / "onnx").iterdir()) == cached
    reference = load_model(tiny_dir).predict(TEXTS)
    for model in (first, again):
        got = model.predict(TEXTS)
        np.testing.assert_allclose(got.techniques, reference.techniques, atol=1e-4, rtol=0)


def test_int8_outputs_keep_the_schema(tiny_dir, onnx_dirs):
    from cadrage.scoring import Scorer

    fp32 = load_model(tiny_dir)
    for int8 in (load_model(onnx_dirs[1]), load_model(tiny_dir, runtime="onnx", quantize="int8"),
                 load_model(onnx_dirs[0], quantize="int8")):
        assert int8.backend.quantize == "int8"
        a, b = fp32.backend.outputs(TEXTS), int8.backend.outputs(TEXTS)
        for field in FIELDS:
            assert getattr(b, field).shape == getattr(a, field).shape
            assert getattr(b, field).dtype == getattr(a, field).dtype
        for probs in (b.techniques, b.stance, b.voice):
            assert np.all((probs >= 0) & (probs <= 1))
        np.testing.assert_allclose(b.stance.sum(1), 1, atol=1e-5)
        np.testing.assert_allclose(b.voice.sum(1), 1, atol=1e-5)
        assert np.abs(b.techniques - a.techniques).max() < 0.2  # quantized, not broken
        records, reference = Scorer(int8).score_texts(TEXTS), Scorer(fp32).score_texts(TEXTS)
        assert [sorted(r) for r in records] == [sorted(r) for r in reference]
        assert all(set(r["stance"]) == set(fp32.schema.stance_labels) for r in records)
        assert int8.thresholds == fp32.thresholds


def test_scoring_is_independent_of_batch_size_and_order(tiny_dir, onnx_dirs):
    for directory in (tiny_dir, onnx_dirs[0]):
        whole = load_model(directory, batch_size=64).backend.outputs(TEXTS)
        small = load_model(directory, batch_size=2).backend
        reordered = small.outputs(TEXTS[::-1])
        for field in FIELDS:
            np.testing.assert_allclose(getattr(reordered, field)[::-1], getattr(whole, field), atol=1e-5, rtol=0)
        empty = small.outputs([])
        assert len(empty) == 0 and empty.techniques.shape == (0, whole.techniques.shape[1])


def test_runtime_and_quantize_options_are_checked(tiny_dir, onnx_dirs):
    with pytest.raises(ModelLoadError, match="runtime 'onnx'"):
        load_model(tiny_dir, quantize="int8")  # int8 is an ONNX Runtime feature
    with pytest.raises(ModelLoadError, match="unknown runtime"):
        load_model(tiny_dir, runtime="tensorrt")
    with pytest.raises(ModelLoadError, match="quantize"):
        load_model(tiny_dir, runtime="onnx", quantize="int4")
    with pytest.raises(ModelLoadError, match="no PyTorch weights"):
        load_model(onnx_dirs[0], runtime="torch")
    with pytest.raises(ModelLoadError, match="int8 graph"):
        load_model(onnx_dirs[1], quantize="none")


def test_export_onnx_command(tiny_dir, tmp_path, capsys):
    from cadrage.cli import main
    from cadrage.models.onnx import describe

    out = tmp_path / "exported"
    assert main(["export-onnx", str(tiny_dir), str(out), "--quantize", "int8"]) == 0
    info = describe(out)
    assert info["quantize"] == "int8" and info["inputs"] == ["input_ids", "attention_mask"]
    assert {"model.onnx", "cadrage.json", "lexicon.csv", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    assert not any(p.suffix == ".safetensors" for p in out.iterdir())
    assert load_model(out).predict(TEXTS).techniques.shape[0] == len(TEXTS)
    assert main(["export-onnx", str(tiny_dir), str(out)]) == 1  # exists: needs --force
    assert "already exists" in capsys.readouterr().err
    assert main(["export-onnx", str(out), str(tmp_path / "again")]) == 1  # an ONNX dir is not a source
    assert main(["export-onnx", str(tmp_path / "missing"), str(tmp_path / "x")]) == 1


def test_dynamic_axes_in_the_graph(onnx_dirs):
    import onnx

    graph = onnx.load(str(onnx_dirs[0] / "model.onnx")).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims == {"input_ids": ["batch", "sequence"], "attention_mask": ["batch", "sequence"]}
    assert [o.name for o in graph.output] == ["loaded_logit", "techniques", "stance", "voice"]


@pytest.mark.slow
def test_benchmark_quick_mode(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "score.py"), "--quick", "--out", str(out), "--work", str(tmp_path / "work")],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"speedup_vs_pipeline=\d+\.\d\d int8_vs_fp32=\d+\.\d\d int8_agreement=[01]\.\d\d\d", last), last
    import json

    results = json.loads(out.read_text())
    assert {r["contender"] for r in results["throughput"]} == {"pipeline", "ours_fp32", "onnx_fp32", "onnx_int8"}
    assert all(r["error"] is None and r["sentences_per_s"] > 0 for r in results["throughput"])
