"""The prepare step's validation: every broken fixture is reported with file, row and reason."""
from __future__ import annotations

import json

import pytest

from cadrage.data import (
    DataError,
    Vocab,
    canonical_rows,
    grouped_splits,
    near_duplicate_pairs,
    read_records,
)
from cadrage.prepare import main as prepare_main
from cadrage.schema import load_schema_file

VOCAB = Vocab.from_schema_file(load_schema_file())
GOOD = {"text": "Le conseil municipal a voté le budget hier soir.", "loaded": 0, "techniques": [], "stance": "neutral",
        "voice": "author", "cues": [], "article_id": "a1"}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def problems(tmp_path, rows):
    with pytest.raises(DataError) as err:
        canonical_rows(read_records(write_jsonl(tmp_path / "broken.jsonl", rows)), VOCAB, origin="broken")
    return err.value.problems


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"techniques": ["Loaded_Language", "Not_A_Technique"], "loaded": 1}, "unknown technique(s) ['Not_A_Technique']"),
        ({"text": "   "}, "empty text"),
        ({"stance": "pro_west"}, "unknown stance 'pro_west'"),
        ({"voice": 3}, "unknown voice 3"),
        ({"loaded": "yes"}, "'loaded' must be 0 or 1"),
        ({"techniques": "[1, 2]"}, "'techniques' must be a list of names"),
        ({"techniques": ["Doubt"], "loaded": 1, "cues": [{"start": 10, "end": 400, "technique": "Doubt"}]}, "lie outside the text"),
        ({"techniques": ["Doubt"], "loaded": 1, "cues": [{"text": "introuvable", "technique": "Doubt"}]}, "does not occur in the text"),
        ({"techniques": ["Doubt"], "loaded": 0}, "disagrees with techniques"),
        ({"text": 42}, "'text' must be a string"),
    ],
)
def test_each_broken_row_is_named_with_file_row_and_reason(tmp_path, change, reason):
    found = problems(tmp_path, [GOOD, {**GOOD, **change}])
    assert len(found) == 1
    assert found[0].startswith("broken:broken.jsonl:2: ")
    assert reason in found[0]


def test_duplicate_ids_are_reported_with_both_rows(tmp_path):
    found = problems(tmp_path, [{**GOOD, "id": "x"}, {**GOOD, "id": "y"}, {**GOOD, "id": "x"}])
    assert found == ["broken:broken.jsonl:3: duplicate id 'x' (first at broken:broken.jsonl:1)"]


def test_invalid_json_line_is_reported_with_its_line_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:2: invalid JSON"):
        read_records(path)


def test_csv_with_pipe_separated_techniques_and_missing_labels(tmp_path):
    path = tmp_path / "user.csv"
    path.write_text("text,techniques\nUne phrase sans étiquette de position.,Loaded_Language|Doubt\n"
                    "Une autre phrase tout à fait neutre.,\n", encoding="utf-8")
    rows = canonical_rows(read_records(path), VOCAB)
    assert rows[0]["techniques"] == ["Loaded_Language", "Doubt"] and rows[0]["loaded"] == 1
    assert rows[0]["stance"] is None and rows[0]["voice"] is None  # missing heads stay masked
    assert rows[1]["techniques"] is None and rows[1]["loaded"] is None


def test_cue_given_by_text_becomes_a_span(tmp_path):
    row = {**GOOD, "text": "Ce régime fantoche s'accroche au pouvoir.", "loaded": 1, "techniques": ["Name_Calling-Labeling"],
           "cues": [{"text": "régime fantoche", "technique": "Name_Calling-Labeling"}]}
    (out,) = canonical_rows(read_records(write_jsonl(tmp_path / "ok.jsonl", [row])), VOCAB)
    assert out["cues"] == [{"start": 3, "end": 18, "technique": "Name_Calling-Labeling"}]


def test_prepare_cli_fails_cleanly_on_broken_data(tmp_path, capsys):
    data = tmp_path / "corpus"
    data.mkdir()
    write_jsonl(data / "a.jsonl", [GOOD, {**GOOD, "stance": "??"}])
    assert prepare_main(["--data", str(data), "--out", str(tmp_path / "out")]) == 1
    assert "a.jsonl:2: unknown stance '??'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_splits_are_grouped_stratified_and_free_of_near_duplicates(corpus_rows):
    splits = grouped_splits(corpus_rows, dev=0.15, test=0.15, seed=13, near_dup=0.8)
    articles = {name: {r["article_id"] for r in rows} for name, rows in splits.items()}
    assert not (articles["train"] & articles["dev"]) and not (articles["train"] & articles["test"]) and not (articles["dev"] & articles["test"])
    total = sum(len(v) for v in splits.values())
    assert total == len(corpus_rows)
    share = {name: sum(r["loaded"] for r in rows) / len(rows) for name, rows in splits.items()}
    assert max(share.values()) - min(share.values()) < 0.1
    # No pair of sentences from two different splits is a near duplicate.
    texts, owner = [], []
    for name, rows in splits.items():
        texts += [r["text"] for r in rows]
        owner += [name] * len(rows)
    crossing = [(texts[i], texts[j]) for i, j, _ in near_duplicate_pairs(texts, 0.8) if owner[i] != owner[j]]
    assert crossing == []


def test_candidate_batches_stay_valid_and_distinct_from_the_corpus(corpus_rows):
    """data/candidates/ is kept out of training but must stay usable: valid rows, article ids
    of its own, no sentence a near duplicate of one in data/authored/."""
    from cadrage.paths import ROOT

    for batch in sorted(p for p in (ROOT / "data" / "candidates").iterdir() if p.is_dir()):
        rows = canonical_rows(read_records(batch), VOCAB, origin=str(batch))
        assert rows, batch
        assert not {r["article_id"] for r in rows} & {r["article_id"] for r in corpus_rows}, batch
        texts = [r["text"] for r in corpus_rows] + [r["text"] for r in rows]
        n = len(corpus_rows)
        crossing = [(texts[i], texts[j]) for i, j, _ in near_duplicate_pairs(texts, 0.8) if (i < n) != (j < n)]
        assert crossing == [], batch
