"""Issue 16, point 2: cleaning, segmentation and voice analysis take time linear in the input."""
from __future__ import annotations

import subprocess
import sys
import time
import json
from pathlib import Path

import pytest

from cadrage.ingest.articles import _sentences_of
from cadrage.ingest.clean import clean_text
from cadrage.ingest.segment import get_nlp, segment

ROOT = Path(__file__).resolve().parent.parent
UNIT = ("Le ministre « a déclaré » que M. Dupont, selon l'AFP, viendra le 3.5 janv. à Paris ! Les va-t-en-guerre "
        "\"attisent\" l'hystérie, a-t-il dit ; il a ajouté : « c'est une provocation ». ")
RUN_ON = "le porte-parole a déclaré que selon lui les va-t-en-guerre attisent l'hystérie, a-t-il dit, et "


def _one_line(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _process(text: str) -> int:
    cleaned = clean_text(text).text
    return len(_sentences_of(cleaned, segment(cleaned)))


def _best_time(text: str, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        _process(text)
        best = min(best, time.perf_counter() - t)
    return best


def test_processing_time_grows_linearly_on_one_long_line():
    get_nlp()  # loading spaCy is not part of what is measured
    _process(_one_line(UNIT, 5_000))  # warm-up
    for unit in (UNIT, RUN_ON):  # many sentences on one line; one endless sentence full of attributions
        small, large = _best_time(_one_line(unit, 25_000)), _best_time(_one_line(unit, 100_000))
        # 4x the input: linear is ~4x, quadratic ~16x; the bound is generous for a shared machine
        assert large / max(small, 1e-3) < 8, (unit[:20], small, large)


@pytest.mark.slow  # ~10-20 s: a real 2 MB subprocess run
def test_two_megabyte_single_line_file_ingests_in_seconds(tmp_path):
    path = tmp_path / "one-line.txt"
    path.write_text("Titre de l'article\n\n" + _one_line(UNIT, 2_000_000), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cadrage.cli", "ingest", str(path), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - t
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(record["sentences"]) > 20_000
    assert all(record["text"][s["start"]:s["end"]] == s["text"] for s in record["sentences"][::997])
    assert elapsed < 60, elapsed  # was past 600 s (quadratic splitting); about 10 s here
