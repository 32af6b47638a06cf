"""Issue 16, point 3: SIGINT / SIGTERM during `cadrage score` or `cadrage ingest` remove the
temporary files, print one line on stderr and exit 130 / 143 (real subprocesses)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cadrage.models.artifacts import save_model_dir
from cadrage.models.linear import LinearMultiTask, save_linear

ROOT = Path(__file__).resolve().parent.parent
LEXICON = ROOT / "data" / "lexicon.csv"


@pytest.fixture(scope="module")
def tiny_model(corpus_rows, tmp_path_factory) -> Path:
    from cadrage.lexicon import Lexicon
    from cadrage.schema import label_schema

    entries = [[e.expression, "|".join(e.techniques), e.stance_lean] for e in Lexicon.from_csv(LEXICON).entries]
    model = LinearMultiTask(label_schema("default"), entries, char_ngrams=(2, 3), max_features=3000).fit(corpus_rows[::20])
    card = {"backend": "linear", "name": "tiny", "schema": model.schema.to_dict(),
            "thresholds": {"loaded": 0.5, "techniques": {t: 0.5 for t in model.schema.techniques}},
            "calibration": {"coef": 1.0, "intercept": 0.0}}
    return save_model_dir(tmp_path_factory.mktemp("tiny") / "model", card, lambda d: save_linear(model, d), LEXICON)


@pytest.fixture(scope="module")
def many_articles(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "articles.jsonl"
    text = ("Le conseil municipal a voté le budget après un long débat. « C'est une provocation », a jugé "
            "l'opposition. Ces va-t-en-guerre attisent l'hystérie, selon un élu. ") * 4
    with open(path, "w", encoding="utf-8") as f:
        for i in range(20_000):
            f.write(json.dumps({"id": f"a{i}", "source": "journal.example", "text": text}, ensure_ascii=False) + "\n")
    return path


def _interrupt(argv: list[str], out_dir: Path, signum: int) -> subprocess.CompletedProcess:
    # A shell starts background jobs with SIGINT ignored, and Python keeps an inherited "ignore":
    # give the child the default disposition a terminal user's Ctrl-C meets.
    proc = subprocess.Popen([sys.executable, "-m", "cadrage.cli", *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not [p for p in out_dir.iterdir() if p.name.endswith(".tmp")]:  # writing has started
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no temporary output file appeared"
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("signum, status, word", [
    (signal.SIGTERM, 143, "SIGTERM"), pytest.param(signal.SIGINT, 130, "SIGINT", marks=pytest.mark.slow)])
def test_score_killed_leaves_no_temporary_file(tiny_model, many_articles, tmp_path, signum, status, word):
    out = tmp_path / "scores.csv"
    done = _interrupt(["score", str(many_articles), "--model", str(tiny_model), "--out", str(out), "--quiet"], tmp_path, signum)
    assert done.returncode == status, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cadrage score: ") and word in lines[0], done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no .tmp litter, no half-written output


@pytest.mark.parametrize("signum, status, word", [
    (signal.SIGINT, 130, "SIGINT"), pytest.param(signal.SIGTERM, 143, "SIGTERM", marks=pytest.mark.slow)])
def test_ingest_killed_leaves_no_temporary_file(many_articles, tmp_path, signum, status, word):
    out = tmp_path / "ingested.jsonl"
    done = _interrupt(["ingest", str(many_articles), "--out", str(out)], tmp_path, signum)
    assert done.returncode == status, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cadrage ingest: ") and word in lines[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
