"""Issue 16, point 4: every cell of every CSV the project writes is safe to open in a
spreadsheet (OWASP: a leading = + - @ tab or CR is neutralised with a ')."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _output_fixtures import article, sentence  # noqa: E402

from cadrage.outputs import open_writer, sidecar_paths  # noqa: E402

PAYLOADS = {
    "=": '=HYPERLINK("http://evil.example","clic")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-HYPERLINK(\"http://evil.example\",\"clic\")",
    "-cmd": "-cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}


def _neutralised(value: str, payload: str) -> bool:
    """The cell holds the payload (stripped, for fields the pipeline trims) behind a '."""
    return value.startswith("'") and value[1:] in (payload, payload.strip())


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, payload: str, *, failed: bool = False) -> Path:
    with open_writer(path, "csv", loaded_threshold=0.5) as writer:
        art = article(payload, source=payload, path=payload, error=payload if failed else None)
        sentences = [] if failed else [sentence(payload, 0, payload, 0.9)]
        writer.write_article(art, sentences)
        writer.close(writer.source_table())
    return path


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_every_text_cell_of_the_sentence_csv_is_neutralised(tmp_path, name):
    payload = PAYLOADS[name]
    (row,) = _rows(_write(tmp_path / "out.csv", payload))
    for column in ("text", "article_id", "source"):
        assert _neutralised(row[column], payload), (column, row[column])


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_error_rows_are_neutralised(tmp_path, name):
    payload = PAYLOADS[name]
    (row,) = _rows(_write(tmp_path / "out.csv", payload, failed=True))
    for column in ("article_id", "source", "error", "path"):
        assert _neutralised(row[column], payload), (column, row[column])


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_sources_csv_is_neutralised(tmp_path, name):
    payload = PAYLOADS[name]
    out = _write(tmp_path / "out.csv", payload)
    rows = _rows(sidecar_paths(out)[1])
    assert rows and _neutralised(rows[0]["source"], payload), rows[0]["source"]
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)


def test_jsonl_run_sidecar_sources_csv_is_neutralised(tmp_path):
    """A JSONL run also writes .sources.csv beside it."""
    with open_writer(tmp_path / "out.jsonl", "jsonl", loaded_threshold=0.5) as writer:
        writer.write_article(article("a", source=PAYLOADS["-"]), [sentence("a", 0, "Une phrase.", 0.9)])
        writer.close(writer.source_table())
    (row,) = _rows(sidecar_paths(tmp_path / "out.jsonl")[1])
    assert row["source"] == "'" + PAYLOADS["-"]
