"""The real-text set: labels keyed by document, offsets and hash, joined with the shared text."""
from __future__ import annotations

import json

import pytest

from cadrage import realtext
from cadrage.realtext import RealTextError, RealTextMissing, real_rows, sentence_hash

DOCS = {
    "winer-fr-2099_01_01-001": {"id": "winer-fr-2099_01_01-001", "title": "Essai : un titre",
                                "text": "Première phrase inventée. Une seconde, « honteuse », dit-il."},
    "sequoia-Europar.550-0001-0020": {"id": "sequoia-Europar.550-0001-0020", "title": "",
                                      "text": "Monsieur le Président, ce texte est inventé pour le test."},
}


def label(doc: str, field: str, start: int, end: int, **labels) -> dict:
    text = DOCS[doc][field][start:end]
    row = {"doc": doc, "corpus": "wikinews" if doc.startswith("winer") else "sequoia", "field": field,
           "start": start, "end": end, "sha256": sentence_hash(text), "loaded": 0, "techniques": [],
           "stance": "neutral", "voice": "author", "cues": [], "hard_negative": None}
    row.update(labels)
    return row


def test_rows_join_labels_to_the_shared_text():
    labels = [label("winer-fr-2099_01_01-001", "title", 0, 16),
              label("winer-fr-2099_01_01-001", "text", 26, 60, loaded=1, techniques=["Loaded_Language"], voice="reported",
                    cues=[{"start": 15, "end": 23, "technique": "Loaded_Language"}], hard_negative="reported"),
              label("sequoia-Europar.550-0001-0020", "text", 0, 57)]
    rows = real_rows(labels=labels, documents=DOCS)
    assert [r["text"] for r in rows] == ["Essai : un titre", "Une seconde, « honteuse », dit-il.",
                                         "Monsieur le Président, ce texte est inventé pour le test."]
    assert rows[1]["text"][15:23] == "honteuse" and rows[1]["voice"] == "reported"
    assert [r["topic"] for r in rows] == ["wikinews", "wikinews", "Europar"]
    assert rows[0]["article_id"] == rows[1]["article_id"] == "winer-fr-2099_01_01-001"


def test_a_label_that_no_longer_matches_the_text_is_named():
    stale = label("winer-fr-2099_01_01-001", "text", 0, 25)
    stale["start"] += 1
    missing = label("winer-fr-2099_01_01-001", "text", 0, 25)
    missing["doc"] = "winer-fr-gone"
    with pytest.raises(RealTextError) as e:
        real_rows(labels=[stale, missing], documents=DOCS)
    message = str(e.value)
    assert "2 real-text label(s)" in message and "hash differs" in message and "winer-fr-gone" in message


def test_absent_shared_text_is_a_skip_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("CADRAGE_REAL_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(RealTextMissing, match="skipped"):
        real_rows("real-dev")


def test_eval_skips_cleanly_without_the_shared_text(tmp_path, monkeypatch, capsys):
    from cadrage.evaluation.cli import main

    monkeypatch.setenv("CADRAGE_REAL_DIR", str(tmp_path / "nowhere"))
    assert main(["--model", "lexicon", "--data", "real-dev", "--out", str(tmp_path / "out"), "--no-mlflow"]) == 0
    assert "skipped" in capsys.readouterr().err
    assert "skipped" in json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert json.loads((tmp_path / "out" / "headline.json").read_text()) == {}


def test_the_committed_labels_match_the_shared_text_and_the_split_is_by_document():
    try:
        documents = realtext.read_documents()
    except RealTextMissing as e:
        pytest.skip(str(e))
    rows = real_rows(documents=documents)
    split = realtext.read_split()
    dev, test = set(split["real-dev"]), set(split["real-test"])
    assert not dev & test
    assert {r["article_id"] for r in rows} == dev | test
    assert len(rows) >= 1500
    n_dev = len(real_rows("real-dev", documents=documents))
    assert 0 < n_dev < len(rows)


def test_the_agreement_files_are_the_record_of_how_the_labels_were_reached():
    """Every doubly annotated sentence is labelled; its final labels are the adjudicated ones where
    the annotators disagreed and the first pass elsewhere; agreement.json is what the files give."""
    from cadrage.agreement import agreement
    from cadrage.schema import load_schema_file

    folder = realtext.LABELS.parent / "agreement"

    def rows(name: str) -> list[dict]:
        return realtext.read_labels(folder / name)

    def key(r: dict) -> str:
        return f"{r['doc']}:{r['field']}:{r['start']}"

    keys = ("loaded", "techniques", "stance", "voice", "cues", "hard_negative")
    final = {key(r): r for r in realtext.read_labels()}
    first, second, adjudicated = rows("first_pass.jsonl"), rows("second_annotator.jsonl"), rows("adjudication.jsonl")
    assert [key(r) for r in first] == [key(r) for r in second]
    for r in first + second + adjudicated:
        assert key(r) in final and final[key(r)]["sha256"] == r["sha256"], key(r)
    decided = {key(r): r["labels"] for r in adjudicated}
    for r in first:
        expected = decided.get(key(r), r)
        assert {k: final[key(r)][k] for k in keys} == {k: expected[k] for k in keys}, key(r)

    figures = json.loads((folder / "agreement.json").read_text(encoding="utf-8"))
    techniques = load_schema_file()["techniques"]
    with_ids = [dict(r, id=key(r)) for r in second]
    assert figures["n"] == len(second)
    assert figures["before_adjudication"] == agreement({key(r): r for r in first}, with_ids, techniques)
    assert figures["after_adjudication"] == agreement({k: dict(r, id=k) for k, r in final.items()}, with_ids, techniques)
