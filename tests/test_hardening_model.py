"""Issue 16, points 1 and 6: a model directory cannot run code, and every damaged model is a
one-line ModelLoadError naming the file and the reason, at every entry point."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from cadrage.models.artifacts import CARD, ModelLoadError, build_manifest, save_model_dir
from cadrage.models.linear import ALLOWED_NODES, SKOPS_FILE, LinearMultiTask, save_linear, skops_nodes
from cadrage.models.loading import UnverifiedModelWarning, load_model

ROOT = Path(__file__).resolve().parent.parent
LEXICON = ROOT / "data" / "lexicon.csv"


@pytest.fixture(scope="module")
def fitted(corpus_rows) -> LinearMultiTask:
    """A small linear model (every 10th corpus sentence, small n-gram space): seconds to fit."""
    from cadrage.lexicon import Lexicon
    from cadrage.schema import label_schema

    lexicon = Lexicon.from_csv(LEXICON)
    entries = [[e.expression, "|".join(e.techniques), e.stance_lean] for e in lexicon.entries]
    return LinearMultiTask(label_schema("default"), entries, char_ngrams=(2, 3), max_features=5000).fit(corpus_rows[::10])


def _card(model: LinearMultiTask) -> dict:
    return {"backend": "linear", "name": "tiny-test", "schema": model.schema.to_dict(),
            "thresholds": {"loaded": 0.5, "techniques": {t: 0.5 for t in model.schema.techniques}},
            "calibration": {"coef": 1.0, "intercept": 0.0}}


def _save(model: LinearMultiTask, directory: Path, write=None) -> Path:
    return save_model_dir(directory, _card(model), write or (lambda d: save_linear(model, d)), LEXICON)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory) -> Path:
    return _save(fitted, tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture()
def model_dir(saved, tmp_path) -> Path:
    """A fresh copy of a saved model directory, for one test to damage."""
    return Path(shutil.copytree(saved, tmp_path / "model"))


def _edit_card(directory: Path, **changes) -> None:
    card = json.loads((directory / CARD).read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        target = card
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    (directory / CARD).write_text(json.dumps(card), encoding="utf-8")


def _refused(directory: Path, *needles: str) -> str:
    with pytest.raises(ModelLoadError) as info:
        load_model(directory)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


# --------------------------------------------------------------------------------------- code execution
def test_allow_list_is_exact_and_covers_a_fresh_model(model_dir):
    assert skops_nodes(model_dir / SKOPS_FILE) <= ALLOWED_NODES
    kinds = {kind for kind, _ in ALLOWED_NODES}
    assert not kinds & {"FunctionNode", "MethodNode", "PartialNode", "OperatorFuncNode", "ReduceNode"}
    assert all("." in t and not t.endswith(".") for _, t in ALLOWED_NODES)  # no prefixes
    assert not any(t.startswith("builtins.") and t.split(".")[1] in dir(__builtins__) and callable(getattr(__builtins__, t.split(".")[1], None))
                   and t.split(".")[1] not in ("dict", "list", "tuple", "set", "str", "int", "float", "bool")
                   for _, t in ALLOWED_NODES)
    model = load_model(model_dir)
    assert model.backend.outputs(["Les va-t-en-guerre attisent l'hystérie."]).loaded_logit.shape == (1,)


def _exploit(fitted: LinearMultiTask, directory: Path, marker: Path) -> Path:
    """The issue's crafted model: FunctionTransformer(numpy.full_like) fills every text with
    Python source, and a TfidfVectorizer whose analyzer is builtins.exec runs it. Its manifest
    is valid: the attacker wrote the whole directory."""
    import builtins

    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    source = f"open({str(marker)!r}, 'w').write('pwned')"
    vectorizer = TfidfVectorizer().fit(["un texte", "un autre texte"])
    vectorizer.analyzer = builtins.exec
    features = Pipeline([("fill", FunctionTransformer(func=np.full_like, kw_args={"fill_value": source, "dtype": object})),
                         ("vec", vectorizer)])

    def write(d: Path) -> None:
        sio.dump({"features": features, "heads": fitted.heads, "C": 1.0, "seed": 0, "lexicon_features_version": 2},
                 d / SKOPS_FILE)

    return _save(fitted, directory, write)


def test_crafted_model_is_refused_before_anything_runs(fitted, tmp_path):
    marker = tmp_path / "pwned.txt"
    directory = _exploit(fitted, tmp_path / "evil", marker)
    with pytest.raises(ModelLoadError) as info:
        model = load_model(directory)
        model.backend.outputs(["Une phrase."])  # what scoring does next with a loaded model
    assert not marker.exists()
    message = str(info.value)
    assert SKOPS_FILE in message and "builtins.exec" in message and "numpy.full_like" in message
    assert "\n" not in message


def test_crafted_model_is_one_line_error_from_score(fitted, tmp_path, capsys):
    from cadrage.cli import main

    marker = tmp_path / "pwned.txt"
    directory = _exploit(fitted, tmp_path / "evil", marker)
    article = tmp_path / "a.txt"
    article.write_text("Titre\n\nLe conseil a voté le budget. Les députés ont applaudi.\n", encoding="utf-8")
    assert main(["score", str(article), "--model", str(directory), "--quiet"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("cadrage score: ") and "refusing to load" in lines[0] and SKOPS_FILE in lines[0]
    assert not marker.exists()


def test_crafted_model_is_one_line_error_from_eval(fitted, tmp_path):
    from cadrage.evaluation.models import ModelSpecError, resolve_model

    marker = tmp_path / "pwned.txt"
    directory = _exploit(fitted, tmp_path / "evil", marker)
    with pytest.raises(ModelSpecError) as info:  # `eval` prints it as `eval: <message>`, exit 1
        resolve_model(str(directory))
    assert "\n" not in str(info.value) and "refusing to load" in str(info.value)
    assert not marker.exists()


@pytest.mark.slow
def test_crafted_model_is_one_line_error_from_eval_cli(fitted, tmp_path):
    marker = tmp_path / "pwned.txt"
    directory = _exploit(fitted, tmp_path / "evil", marker)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    done = subprocess.run([sys.executable, "-m", "cadrage.cli", "eval", "--model", str(directory), "--data",
                           str(ROOT / "data" / "authored"), "--out", str(tmp_path / "eval")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "refusing to load" in lines[0], done.stderr[-2000:]
    assert not marker.exists()


# --------------------------------------------------------------------------------------- manifest
def test_save_writes_a_manifest_of_every_file(model_dir):
    card = json.loads((model_dir / CARD).read_text(encoding="utf-8"))
    assert set(card["manifest"]) == {SKOPS_FILE, "lexicon.csv"}
    assert card["manifest"] == build_manifest(model_dir)
    assert card["format_version"] == 1


def test_model_dir_is_readable_by_others(model_dir):
    mask = os.umask(0)
    os.umask(mask)
    assert model_dir.stat().st_mode & 0o777 == 0o777 & ~mask  # was 0700 (tempfile.mkdtemp)


def test_directory_without_manifest_loads_with_a_warning(model_dir):
    card = json.loads((model_dir / CARD).read_text(encoding="utf-8"))
    del card["manifest"]
    (model_dir / CARD).write_text(json.dumps(card), encoding="utf-8")
    with pytest.warns(UnverifiedModelWarning, match="no manifest"):
        load_model(model_dir)


def test_unlisted_file_is_refused(model_dir):
    (model_dir / "extra.json").write_text("{}", encoding="utf-8")
    _refused(model_dir, "extra.json", "not in the manifest")


# --------------------------------------------------------------------------------------- damaged files
def test_truncated_skops(model_dir):
    data = (model_dir / SKOPS_FILE).read_bytes()
    (model_dir / SKOPS_FILE).write_bytes(data[: len(data) // 2])
    _refused(model_dir, SKOPS_FILE, "damaged or modified")


def test_bit_flipped_skops(model_dir):
    data = bytearray((model_dir / SKOPS_FILE).read_bytes())
    data[len(data) // 3] ^= 0x10
    (model_dir / SKOPS_FILE).write_bytes(bytes(data))
    _refused(model_dir, SKOPS_FILE, "damaged or modified")


def test_truncated_skops_without_manifest_is_still_one_line(model_dir):
    """Without a manifest to catch it, the skops reader itself must fail cleanly."""
    _edit_card(model_dir, manifest=None)
    card = json.loads((model_dir / CARD).read_text(encoding="utf-8"))
    del card["manifest"]
    (model_dir / CARD).write_text(json.dumps(card), encoding="utf-8")
    data = (model_dir / SKOPS_FILE).read_bytes()
    (model_dir / SKOPS_FILE).write_bytes(data[: len(data) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedModelWarning)
        _refused(model_dir, SKOPS_FILE, "not a readable skops file")


def test_missing_lexicon(model_dir):
    (model_dir / "lexicon.csv").unlink()
    _refused(model_dir, "lexicon.csv", "missing")


def _replace_file(directory: Path, name: str, data: bytes) -> None:
    """Replace a file and record it in the manifest, as a model saved with it would be."""
    (directory / name).write_bytes(data)
    _edit_card(directory, manifest=build_manifest(directory))


def test_garbage_lexicon(model_dir):
    _replace_file(model_dir, "lexicon.csv", b"\x89PNG\r\n\x1a\n\x00\xffgarbage")
    _refused(model_dir, "lexicon.csv", "not a usable lexicon")
    _replace_file(model_dir, "lexicon.csv", b"hello,world\n1,2\n")
    _refused(model_dir, "lexicon.csv", "not a usable lexicon")


@pytest.mark.parametrize("field, value, needle", [
    ("thresholds__loaded", "high", "thresholds.loaded must be a finite number"),
    ("thresholds__loaded", 5.0, "thresholds.loaded must be a probability in [0, 1]"),
    ("thresholds__loaded", None, "thresholds.loaded must be a finite number"),
    ("calibration__coef", "x", "calibration.coef must be a finite number"),
    ("calibration__intercept", float("nan"), "calibration.intercept must be a finite number"),
    ("format_version", 99, "format_version 99 is not supported"),
    ("format_version", "1", "'format_version' must be an integer"),
])
def test_bad_card_values(model_dir, field, value, needle):
    _edit_card(model_dir, **{field: value})
    _refused(model_dir, CARD, needle)


def test_bad_technique_threshold(model_dir, fitted):
    technique = fitted.schema.techniques[0]
    _edit_card(model_dir, **{f"thresholds__techniques__{technique}": -0.5})
    _refused(model_dir, CARD, f"thresholds.techniques.{technique}")


def test_unreadable_card(model_dir):
    (model_dir / CARD).write_bytes(b"\xff\xfe{not json")
    _refused(model_dir, CARD, "unreadable model card")


def test_damaged_model_is_one_line_from_score(model_dir, tmp_path, capsys):
    from cadrage.cli import main

    _edit_card(model_dir, thresholds__loaded="high")
    article = tmp_path / "a.txt"
    article.write_text("Titre\n\nLe conseil a voté le budget.\n", encoding="utf-8")
    assert main(["score", str(article), "--model", str(model_dir), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and err.startswith("cadrage score: ") and "thresholds.loaded" in err, err
