"""Writers (cadrage.outputs): JSONL, CSV, HTML on hand-written records; atomicity; escaping."""
from __future__ import annotations

import csv
import gc
import json
import os
import re
import sys
import tracemalloc
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _output_fixtures import article, corpus, loaded_article, neutral_article, sentence  # noqa: E402

from cadrage.outputs import (  # noqa: E402
    SENTENCE_CSV_COLUMNS,
    SENTENCE_FIELDS,
    CsvWriter,
    HtmlWriter,
    JsonlWriter,
    OutputError,
    format_from_path,
    highlight,
    open_writer,
    sidecar_paths,
)
from cadrage.reliability import UNKNOWN_SOURCE, SourceAccumulator, load_ratings  # noqa: E402
from cadrage.summary import article_summary  # noqa: E402

N_SENTENCES = sum(len(s) for a, s in corpus() if not a["error"])
FAILED = {"broken-1", "broken-2"}


def write_all(path, items=None, fmt=None, ratings=None, **kw):
    """Writes the fixture corpus the way `cadrage score` will: summaries + accumulator."""
    acc = SourceAccumulator()
    with open_writer(path, fmt, **kw) as w:
        for art, sents in items if items is not None else corpus():
            summary = article_summary(art, sents)
            acc.add(summary)
            w.write_article(art, sents, summary)
        w.close(acc.table(ratings=ratings), reliability_model=acc.fit())
    return path


def leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith(".") or p.suffix == ".tmp")


# --------------------------------------------------------------------------- JSONL


def test_jsonl_sentences_errors_and_sidecars(tmp_path):
    out = write_all(tmp_path / "scores.jsonl")
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == N_SENTENCES + len(FAILED)
    ok = [r for r in lines if not r["error"]]
    assert all(list(r)[: len(SENTENCE_FIELDS)] == list(SENTENCE_FIELDS) for r in ok)
    first = ok[0]
    assert first["article_id"] == "spk-1" and first["sentence_index"] == 0
    assert first["author_loaded"] is True and first["voice"] == "author"
    assert first["techniques"] == {"Doubt": 0.83, "Loaded_Language": 0.64}
    assert set(first["stance"]) == {"pro_kremlin", "anti_kremlin", "neutral"}
    assert first["cues"][0]["text"] == "en feignant craindre"
    assert first["text"][first["cues"][0]["start"]: first["cues"][0]["end"]] == "en feignant craindre"
    errors = {r["article_id"]: r for r in lines if r["error"]}
    assert set(errors) == FAILED
    assert "binaire" in errors["broken-1"]["error"] and errors["broken-1"]["path"] == "articles/broken.bin"
    assert errors["broken-1"]["sentence_index"] is None

    articles_path, sources_path = sidecar_paths(out)
    assert articles_path == tmp_path / "scores.articles.jsonl" and sources_path == tmp_path / "scores.sources.csv"
    summaries = [json.loads(line) for line in articles_path.read_text(encoding="utf-8").splitlines()]
    assert [s["article_id"] for s in summaries] == [a["article_id"] for a, _ in corpus()]
    by_id = {s["article_id"]: s for s in summaries}
    assert by_id["spk-1"]["n_author_loaded"] == 2 and by_id["spk-1"]["source"] == "fr.sputniknews.com"
    assert by_id["broken-2"]["error"].startswith("langue")
    with open(sources_path, encoding="utf-8-sig", newline="") as f:
        sources = {r["source"]: r for r in csv.DictReader(f)}
    assert sources["fr.sputniknews.com"]["status"] == "ranked"
    assert sources["fr.sputniknews.com"]["articles_failed"] == "1"
    assert sources[UNKNOWN_SOURCE]["status"] == "unknown"
    assert "Loaded_Language" in sources["fr.sputniknews.com"]["top_techniques"]
    assert "feignant" in sources["fr.sputniknews.com"]["evidence"]
    assert float(sources["lemonde.fr"]["reliability"]) > float(sources["fr.sputniknews.com"]["reliability"])
    assert leftovers(tmp_path) == []


def test_jsonl_to_stdout(capsys):
    art, sents = neutral_article("n1", url="https://lemonde.fr/x")
    with open_writer("-") as w:
        w.write_article(art, sents)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(sents) and json.loads(lines[0])["article_id"] == "n1"


# --------------------------------------------------------------------------- CSV


def test_csv_rows_for_spreadsheets(tmp_path):
    out = write_all(tmp_path / "scores.csv")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read the accents
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == SENTENCE_CSV_COLUMNS
    assert len(rows) == N_SENTENCES + len(FAILED)
    r0 = rows[0]
    assert r0["article_id"] == "spk-1" and r0["source"] == "fr.sputniknews.com"
    assert r0["author_loaded"] == "1" and float(r0["loaded"]) == pytest.approx(0.91)
    assert r0["techniques"] == "Doubt (0.83); Loaded_Language (0.64)"
    assert r0["stance"] == "pro_kremlin" and float(r0["stance_prob"]) == pytest.approx(0.75)
    assert "en feignant craindre [Doubt]" in r0["cue_words"]
    assert json.loads(r0["techniques_json"]) == {"Doubt": 0.83, "Loaded_Language": 0.64}
    assert json.loads(r0["cues_json"])[0]["origin"] == "lexicon"
    assert json.loads(r0["stance_json"])["pro_kremlin"] == 0.75
    failed = {r["article_id"]: r for r in rows if r["error"]}
    assert set(failed) == FAILED and failed["broken-1"]["path"] == "articles/broken.bin"
    assert failed["broken-2"]["source"] == "fr.sputniknews.com"
    assert all(p.exists() for p in sidecar_paths(out))
    assert leftovers(tmp_path) == []


def test_csv_reads_back_with_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    out = write_all(tmp_path / "scores.csv")
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert list(df.columns) == list(SENTENCE_CSV_COLUMNS)
    assert df["author_loaded"].sum() == 6
    assert df.loc[df["article_id"] == "afp-3", "text"].str.contains("provocation").any()


def test_csv_neutralises_formulas(tmp_path):
    evil = [sentence("f", 0, "=HYPERLINK(\"http://x\";\"clic\")", 0.1), sentence("f", 1, "- Bonjour, dit-il.", 0.1)]
    out = write_all(tmp_path / "f.csv", [(article("f", url="https://x.fr/a"), evil)])
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["text"].startswith("'=HYPERLINK")
    assert rows[1]["text"] == "'- Bonjour, dit-il."  # OWASP: any leading - is neutralised (issue 16)


# --------------------------------------------------------------------------- HTML


def test_html_report_contents(tmp_path):
    out = write_all(tmp_path / "report.html", meta={"model": "fixture-model"})
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "fixture-model" in html
    # counts, source table, articles, failures
    assert re.search(r'<div class="n">10</div><div class="l">articles</div>', html)
    assert re.search(r'<div class="n">2</div><div class="l">échecs</div>', html)
    assert 'id="source-table"' in html and "fr.sputniknews.com" in html and UNKNOWN_SOURCE in html
    assert html.count('<details class="article"') == 8
    assert '<mark class="cue t-Doubt o-lexicon" title="Doubt (lexique)' in html
    assert 'class="cue t-Loaded_Language o-model" title="Loaded_Language (modèle)">' in html
    assert 'data-voice="reported"' in html and 'data-tech="Loaded_Language"' in html
    assert "chargée : 0.91" in html  # probabilities on hover
    assert html.count('<tr class="failure">') == 2 and "langue détectée" in html
    for ident in ("f-loaded", "f-author", "f-tech"):
        assert f'id="{ident}"' in html
    assert '<option value="Doubt">Doubt</option>' in html
    assert leftovers(tmp_path) == []


def test_html_is_self_contained(tmp_path):
    html = write_all(tmp_path / "report.html").read_text(encoding="utf-8")
    # nothing that a browser would fetch: no src=, no stylesheet links, no url(), no @import
    assert not re.search(r"\ssrc\s*=", html, re.IGNORECASE)
    assert not re.search(r"<link\b", html, re.IGNORECASE)
    assert not re.search(r"url\(|@import", html, re.IGNORECASE)
    assert "default-src 'none'" in html
    # the only absolute URLs are the articles' own links, shown as plain anchors
    for m in re.finditer(r"https?://[^\"'<\s]+", html):
        before = html[max(0, m.start() - 10): m.start()]
        assert 'href="' in before or ">" in before, before


def test_html_escapes_everything(tmp_path):
    nasty = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"
    art = article(
        "x<y>\"'", url="javascript:alert(1)", title=f"Titre {nasty}", warnings=[nasty],
    )
    s = sentence("x<y>", 0, f"Texte {nasty} « provocation ».", 0.9, techniques={"Loaded_Language": 0.9},
                 cues=[("provocation", "Loaded_Language")])
    s["cues"][0]["technique"] = 'Loaded"><script>alert(2)</script>'
    s["techniques"] = {'Evil"><b>': 0.9}
    bad = article("bad", error=f"erreur {nasty}")
    out = write_all(tmp_path / "r.html", [(art, [s]), (bad, [])])
    html = out.read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "<img" not in html
    assert 'Evil"><b>' not in html and "Evil&#34;&gt;&lt;b&gt;" in html  # technique names too
    assert 'Loaded"><script>' not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert html.count("<script>") == 1  # the report's own script only


def test_highlight_segments_overlaps_and_bad_spans():
    text = "L'hystérie attisée par les médias"
    cues = [
        {"start": 2, "end": 10, "technique": "A"},
        {"start": 2, "end": 18, "technique": "B"},
        {"start": 50, "end": 60, "technique": "C"},  # outside: dropped
        {"start": 5, "end": 5, "technique": "D"},  # empty: dropped
        {"technique": "E"},  # malformed: dropped
    ]
    segs = highlight(text, cues)
    assert "".join(s["text"] for s in segs) == text
    assert [(s["text"], [c["technique"] for c in s["cues"]]) for s in segs] == [
        ("L'", []), ("hystérie", ["A", "B"]), (" attisée", ["B"]), (" par les médias", []),
    ]
    assert highlight("abc", None) == [{"text": "abc", "cues": []}]


# --------------------------------------------------------------------------- life cycle & atomicity


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv", "out.html"])
def test_writer_that_raises_midway_leaves_no_output(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(RuntimeError, match="boom"):
        with open_writer(path) as w:
            for i, (art, sents) in enumerate(corpus()):
                if i == 3:
                    raise RuntimeError("boom")
                w.write_article(art, sents)
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv", "out.html"])
def test_failure_keeps_the_previous_output_untouched(tmp_path, name):
    path = tmp_path / name
    write_all(path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    w = open_writer(path)
    art, sents = corpus()[0]
    w.write_article(art, sents)
    def table_that_breaks():
        yield {"source": "x.fr"}
        raise RuntimeError("table broke")

    with pytest.raises(RuntimeError, match="table broke"):
        w.close(table_that_breaks())  # fails inside close(): nothing is committed
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_close_without_table_builds_its_own(tmp_path):
    path = tmp_path / "auto.jsonl"
    with JsonlWriter().open(path) as w:  # leaving the block closes it
        for art, sents in corpus():
            w.write_article(art, sents)  # no summary: the writer computes it
    assert w.n_articles == 10 and w.n_failed == 2
    with open(sidecar_paths(path)[1], encoding="utf-8-sig", newline="") as f:
        assert {r["source"] for r in csv.DictReader(f)} >= {"fr.sputniknews.com", "lemonde.fr", UNKNOWN_SOURCE}
    with pytest.raises(RuntimeError):
        w.write_article(*corpus()[0])


def test_ratings_reach_the_outputs_but_not_the_score(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("domain,rating\nsputniknews.com,7\n", encoding="utf-8")
    plain = write_all(tmp_path / "a.jsonl")
    rated = write_all(tmp_path / "b.jsonl", ratings=load_ratings(ratings))
    read = lambda p: {r["source"]: r for r in csv.DictReader(open(sidecar_paths(p)[1], encoding="utf-8-sig", newline=""))}
    a, b = read(plain), read(rated)
    assert b["fr.sputniknews.com"]["external_rating"] == "7.0" and a["fr.sputniknews.com"]["external_rating"] == ""
    assert a["fr.sputniknews.com"]["reliability"] == b["fr.sputniknews.com"]["reliability"]
    html = write_all(tmp_path / "c.html", ratings=load_ratings(ratings)).read_text(encoding="utf-8")
    assert "Note externe" in html
    assert "Note externe" not in write_all(tmp_path / "d.html").read_text(encoding="utf-8")


def test_format_and_path_errors(tmp_path):
    assert format_from_path("x/report.HTML") == "html" and format_from_path("a.ndjson") == "jsonl"
    with pytest.raises(OutputError, match="format"):
        format_from_path("report.xlsx")
    with pytest.raises(OutputError, match="unknown output format"):
        open_writer(tmp_path / "x.jsonl", "parquet")
    with pytest.raises(OutputError, match="does not exist"):
        open_writer(tmp_path / "missing" / "x.html")
    assert sidecar_paths("dir/report.csv") == (Path("dir/report.articles.jsonl"), Path("dir/report.sources.csv"))


def _generated(n):
    for i in range(n):
        art, sents = loaded_article(f"g{i}", f"https://site{i % 7}.example/a{i}.html", f"Article {i}")
        yield art, sents


@pytest.mark.parametrize("cls", [HtmlWriter, JsonlWriter, CsvWriter])
def test_memory_does_not_grow_with_the_number_of_articles(tmp_path, cls):
    def peak(n):
        gc.collect()
        tracemalloc.start()
        with cls().open(tmp_path / f"m{n}.{cls.format}") as w:
            for art, sents in _generated(n):
                w.write_article(art, sents)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(20)  # warm-up: template compilation, imports
    small, large = peak(100), peak(1000)
    assert large < small * 1.3 + 200_000, (small, large)


def test_writer_source_table_as_batch_uses_it(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("domain,rating\nlemonde.fr,90\n", encoding="utf-8")
    path = tmp_path / "r.html"
    with open_writer(path, meta={"model": "default", "model_name": "tfidf", "backend": "sklearn"}) as w:
        for art, sents in corpus():
            w.write_article(art, sents)
        table = w.source_table(ratings=load_ratings(ratings))
        w.close(table)
    assert {r["source"]: r["external_rating"] for r in table}["lemonde.fr"] == 90.0
    html = path.read_text(encoding="utf-8")
    assert "tfidf" in html and "corrélation intra-article" in html and "Note externe" in html
