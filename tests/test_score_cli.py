"""cadrage score end to end on fixtures we wrote: per-sentence fields, summaries, sources,
error records, exit codes, --unit sentence, every output format."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import ROOT

from cadrage.cli import main

FIXTURES = ROOT / "tests" / "fixtures" / "score"
SENTENCE_FIELDS = {"article_id", "sentence_index", "start", "end", "text", "loaded", "techniques", "stance",
                   "voice", "author_loaded", "cues", "error"}


def score(model_dir, tmp_path, *paths, out="out.jsonl", extra=()) -> tuple[int, Path]:
    target = tmp_path / out
    code = main(["score", *map(str, paths), "--model", str(model_dir), "--out", str(target), "--quiet", *extra])
    return code, target


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_sentence_records_articles_and_sources(trained_linear, tmp_path):
    code, out = score(trained_linear["model_dir"], tmp_path, FIXTURES)
    assert code == 2  # the blank JSONL record failed, the others were scored
    rows = read_jsonl(out)
    failed = [r for r in rows if r.get("error")]
    assert [r["article_id"] for r in failed] == ["vide"]
    scored = [r for r in rows if not r.get("error")]
    assert all(SENTENCE_FIELDS <= set(r) for r in scored)
    for r in scored:
        assert 0.0 <= r["loaded"] <= 1.0
        assert abs(sum(r["stance"].values()) - 1.0) < 1e-3
        assert r["voice"] in ("author", "reported")
        for cue in r["cues"]:
            assert r["text"][cue["start"]:cue["end"]] == cue["text"]
    by_article = {}
    for r in scored:
        by_article.setdefault(r["article_id"], []).append(r)
    assert [r["sentence_index"] for r in by_article["tribune-1"]] == [0, 1, 2, 3][: len(by_article["tribune-1"])]
    # The scraped junk of the .txt fixture never reaches a sentence; the title appears once.
    txt = next(v for k, v in by_article.items() if k.endswith("depeche.txt"))
    texts = [r["text"] for r in txt]
    assert not any("https://" in t or "2022-02-15T" in t or t == "diplomatie" for t in texts)
    assert sum(t.startswith("Sommet à Genève") for t in texts) == 1
    quoted = next(r for r in txt if r["text"].startswith("« Nous avons été francs"))
    assert quoted["voice"] == "reported" and not quoted["author_loaded"]

    articles = {a["article_id"]: a for a in read_jsonl(out.with_name("out.articles.jsonl"))}
    assert articles["vide"]["error"]
    tribune = articles["tribune-1"]
    assert tribune["n_sentences"] == len(by_article["tribune-1"])
    assert tribune["n_author_loaded"] == sum(r["author_loaded"] for r in by_article["tribune-1"])
    sources = list(csv.DictReader(out.with_name("out.sources.csv").open(encoding="utf-8-sig")))
    names = {s["source"] for s in sources}
    assert {"le-porte-voix.example", "agence-horizon.example", "Le Porte-Voix"} <= names


def test_the_framed_op_ed_scores_above_the_plain_report(trained_linear, tmp_path):
    code, out = score(trained_linear["model_dir"], tmp_path, FIXTURES / "tribunes.jsonl")
    articles = {a["article_id"]: a for a in read_jsonl(out.with_name("out.articles.jsonl"))}
    assert articles["tribune-1"]["author_loaded_share"] > articles["tribune-2"]["author_loaded_share"]


def test_unit_sentence_scores_each_record_as_one_sentence(trained_linear, tmp_path):
    data = tmp_path / "phrases.jsonl"
    data.write_text("".join(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate([
        "Le Parlement a adopté le budget. Le vote a eu lieu à main levée.",
        "Ces fanatiques nous mènent droit à la catastrophe.",
    ])), encoding="utf-8")
    code, out = score(trained_linear["model_dir"], tmp_path, data, extra=["--unit", "sentence"])
    assert code == 0
    rows = read_jsonl(out)
    assert [(r["article_id"], r["sentence_index"]) for r in rows] == [("p0", 0), ("p1", 0)]
    assert rows[0]["text"] == "Le Parlement a adopté le budget. Le vote a eu lieu à main levée."


@pytest.mark.parametrize("fmt", ["csv", "html"])
def test_other_formats_carry_the_error_records(trained_linear, tmp_path, fmt):
    code, out = score(trained_linear["model_dir"], tmp_path, FIXTURES, out=f"report.{fmt}")
    assert code == 2
    body = out.read_text(encoding="utf-8-sig")
    assert "vide" in body
    if fmt == "html":
        assert "<script src=" not in body and "Le Porte-Voix" in body


def test_exit_code_one_when_nothing_could_be_done(trained_linear, tmp_path):
    empty = tmp_path / "vide.txt"
    empty.write_bytes(b"")
    code, out = score(trained_linear["model_dir"], tmp_path, empty)
    assert code == 1


def test_unknown_model_fails_before_any_work(tmp_path, capsys):
    code, out = score(tmp_path / "no-such-model", tmp_path, FIXTURES)
    assert code == 1
    assert "no-such-model" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("out*"))


def test_unknown_registry_alias_is_a_clear_error(trained_linear, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_linear["tracking_uri"])
    code = main(["score", str(FIXTURES), "--model", "models:/cadrage@nobody", "--out", str(tmp_path / "o.jsonl"), "--quiet"])
    assert code == 1
    assert "models:/cadrage@nobody" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_registry_alias_scores_like_the_model_directory(trained_linear, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_linear["tracking_uri"])
    _, direct = score(trained_linear["model_dir"], tmp_path, FIXTURES / "tribunes.jsonl", out="a.jsonl")
    code = main(["score", str(FIXTURES / "tribunes.jsonl"), "--model", "models:/cadrage@champion",
                 "--out", str(tmp_path / "b.jsonl"), "--quiet"])
    assert code == 2
    assert read_jsonl(direct) == read_jsonl(tmp_path / "b.jsonl")
