"""Issue 16, points 5 and 7: honest decoding of short French files, navigation-only HTML, and
warnings that reach the per-sentence JSONL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadrage.ingest.articles import iter_articles
from cadrage.ingest.readers import decode_bytes, read_inputs
from cadrage.outputs import open_writer

FRENCH = [
    "Moscou a massé des troupes près de la frontière.",  # short: where detectors guess cp1250
    "Moscou a massé des troupes près de la frontière. L'hystérie attisée par les médias ne faiblit pas ; "
    "le ministre a dû réagir à Noël, déçu.",
    "« Ça suffit », a lancé l'élu, furieux : « c'est à vous de payer, ô combien ».",
]
CP1252_ONLY = "Le coût : 5 € pour l'œuvre, a « dû » admettre Œdipe — « oui »."


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "iso8859-15"])
@pytest.mark.parametrize("k", range(len(FRENCH)))
def test_short_french_round_trips_its_accents(encoding, k):
    text = FRENCH[k]
    decoded, warnings = decode_bytes(text.encode(encoding), "f.txt")
    assert decoded == text, (encoding, decoded)
    if encoding in ("latin-1", "cp1252", "iso8859-15"):
        assert warnings and "not valid UTF-8" in warnings[0]


def test_cp1252_specific_characters_round_trip():
    assert decode_bytes(CP1252_ONLY.encode("cp1252"), "f.txt")[0] == CP1252_ONLY


def test_utf8_is_always_preferred():
    text = "près de la frontière"
    assert decode_bytes(text.encode("utf-8"), "f.txt") == (text, [])


def test_other_scripts_keep_the_detected_encoding():
    text = "Москва стянула войска к границе. Истерия, раздуваемая западными СМИ, не утихает."
    assert decode_bytes(text.encode("cp1251"), "f.txt")[0] == text


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16"])
def test_files_of_every_format_round_trip(tmp_path, encoding):
    text = FRENCH[1]
    (tmp_path / "a.txt").write_bytes(("Un titre à la une\n\n" + text + "\n").encode(encoding))
    (tmp_path / "b.csv").write_bytes(("id,text\nb1,\"" + text + "\"\n").encode(encoding))
    if encoding != "utf-16":  # a JSONL line is decoded on its own: UTF-16 lines are not JSONL
        (tmp_path / "c.jsonl").write_bytes((json.dumps({"id": "c1", "text": text}, ensure_ascii=False) + "\n").encode(encoding))
    docs = list(read_inputs([str(tmp_path)]))
    assert docs and all(d.error is None for d in docs), [d.error for d in docs]
    assert all(text in d.text for d in docs), [d.text for d in docs]


# --------------------------------------------------------------------------------------- HTML
NAV_ONLY = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Le Journal</title></head>
<body><header><nav><ul><li><a href="/">Accueil</a></li><li><a href="/monde">Monde</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/culture">Culture</a></li></ul></nav></header>
<main><div class="menu"><a href="/">Accueil</a></div></main>
<footer><p>© 2022 Le Journal. Tous droits réservés.</p><a href="/contact">Contact</a></footer></body></html>"""


def test_navigation_only_html_is_an_error_record(tmp_path):
    (tmp_path / "nav.html").write_text(NAV_ONLY, encoding="utf-8")
    (article,) = list(iter_articles([str(tmp_path / "nav.html")], detect_language=False))
    assert article.error and "only navigation" in article.error
    assert article.sentences == []


def test_a_short_real_html_article_is_still_read(tmp_path):
    page = NAV_ONLY.replace('<div class="menu"><a href="/">Accueil</a></div>',
                            "<article><h1>Budget voté</h1><p>Le conseil municipal a voté le budget hier soir "
                            "après un long débat.</p></article>")
    (tmp_path / "ok.html").write_text(page, encoding="utf-8")
    (article,) = list(iter_articles([str(tmp_path / "ok.html")], detect_language=False))
    assert article.error is None and any("budget" in s.text for s in article.sentences)


# --------------------------------------------------------------------------------------- warnings
def test_warnings_reach_every_sentence_record(tmp_path):
    (tmp_path / "latin.txt").write_bytes(("Un titre\n\n" + FRENCH[1] + "\n").encode("latin-1"))
    (article,) = list(iter_articles([str(tmp_path / "latin.txt")]))
    assert article.warnings
    sentences = [{"article_id": article.id, "sentence_index": i, "start": s.start, "end": s.end, "text": s.text,
                  "loaded": 0.1, "techniques": {}, "stance": {"neutral": 1.0}, "voice": s.voice,
                  "author_loaded": False, "cues": [], "error": None} for i, s in enumerate(article.sentences)]
    out = tmp_path / "out.jsonl"
    with open_writer(out, "jsonl", loaded_threshold=0.5) as writer:
        writer.write_article({"article_id": article.id, "path": article.path, "warnings": article.warnings,
                              "error": None, "source": None, "url": None, "title": None, "date": None}, sentences)
        writer.write_article({"article_id": "bad", "path": "bad.txt", "warnings": ["bad.txt: not French"],
                              "error": "bad.txt: empty file"}, [])
        writer.close(writer.source_table())
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(sentences) + 1
    assert all(r["warnings"] == article.warnings for r in records[:-1])
    assert any("not valid UTF-8" in w for w in records[0]["warnings"])
    assert records[-1]["warnings"] == ["bad.txt: not French"]
