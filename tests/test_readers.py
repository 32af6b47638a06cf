"""Input discovery and reading: formats, metadata, encodings and every bad-input case."""
import io
import json
import os
from pathlib import Path

import pytest

from cadrage.ingest import readers
from cadrage.ingest.readers import read_inputs

FIXTURES = Path(__file__).parent / "fixtures" / "articles"

ARTICLE = ("Le festival ouvre ses portes\n\nLe festival de musique de la vallée a ouvert vendredi soir "
           "devant près de huit mille spectateurs. Les organisateurs attendent une affluence record.\n")


def docs(*paths, **kw):
    return list(read_inputs([str(p) for p in paths], **kw))


# ------------------------------------------------------------------ discovery
def test_directory_is_walked_recursively_sorted_hidden_skipped(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b" / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text(ARTICLE, encoding="utf-8")
    got = [Path(p).relative_to(tmp_path).as_posix() for p, fmt, err in readers.discover([str(tmp_path)])]
    assert got == ["a.txt", "b/a.txt", "b/z.txt"]


def test_unsupported_file_in_directory_is_reported_not_dropped(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = docs(tmp_path)
    assert [d.error is None for d in out] == [True, False]
    assert "photo.png" in out[1].error and "unsupported" in out[1].error


def test_glob_and_missing_inputs(tmp_path):
    for name in ("b.txt", "a.txt", "c.html"):
        (tmp_path / name).write_text(ARTICLE, encoding="utf-8")
    got = [p for p, _, _ in readers.discover([str(tmp_path / "*.txt")])]
    assert [Path(p).name for p in got] == ["a.txt", "b.txt"]
    out = docs(tmp_path / "nothing-*.txt", tmp_path / "absent.txt")
    assert "no file matches" in out[0].error
    assert "no such file" in out[1].error and "absent.txt" in out[1].error


def test_reading_is_lazy(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b.txt").write_text(ARTICLE, encoding="utf-8")
    it = read_inputs([str(tmp_path)])
    first = next(it)
    assert first.error is None
    (tmp_path / "b.txt").unlink()  # not read yet: the second document reports it
    second = next(it)
    assert second.error and "b.txt" in second.error


# ------------------------------------------------------------------ .txt
def test_txt_metadata_line_and_title():
    (doc,) = docs(FIXTURES / "scraped_port.txt")
    assert doc.error is None
    assert doc.date == "2023-03"
    assert doc.url.startswith("https://www.courrier-du-matin.example/20230312/")
    assert doc.title == "Port fluvial : la mairie relance un projet contesté"
    assert doc.text.startswith(doc.title)
    assert "date 2023-03" not in doc.text


@pytest.mark.parametrize(
    "header,field,value",
    [
        ("URL: https://exemple.example/a/1", "url", "https://exemple.example/a/1"),
        ("Date : 2023-05-06", "date", "2023-05-06"),
        ("2023-05-06", "date", "2023-05-06"),
        ("https://exemple.example/a/2", "url", "https://exemple.example/a/2"),
        ("Source: Gazette de l'Ouest", "source", "Gazette de l'Ouest"),
    ],
)
def test_txt_metadata_forms(tmp_path, header, field, value):
    p = tmp_path / "a.txt"
    p.write_text(header + "\n" + ARTICLE, encoding="utf-8")
    (doc,) = docs(p)
    assert getattr(doc, field) == value
    assert doc.title == "Le festival ouvre ses portes"


def test_txt_without_headline_has_no_title(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("Le festival a ouvert vendredi soir devant huit mille spectateurs.\n\nLa suite demain.\n",
                 encoding="utf-8")
    (doc,) = docs(p)
    assert doc.title is None
    assert doc.text.startswith("Le festival a ouvert")


# ------------------------------------------------------------------ .html
def test_html_main_text_and_metadata():
    (doc,) = docs(FIXTURES / "page.html")
    assert doc.error is None
    assert doc.title == "Le marché couvert fête son centenaire"
    assert doc.url == "https://www.gazette-locale.example/marche-couvert-centenaire"
    assert doc.date == "2023-05-06"
    assert "place Carnot" in doc.text
    assert "Mentions légales" not in doc.text and "Accueil" not in doc.text


def test_html_saved_as_txt_is_extracted_with_a_warning():
    (doc,) = docs(FIXTURES / "html_as_text.txt")
    assert doc.error is None
    assert "<p>" not in doc.text and "place Carnot" in doc.text
    assert any("HTML" in w and "html_as_text.txt" in w for w in doc.warnings)


def test_html_without_text_is_an_error(tmp_path):
    p = tmp_path / "vide.html"
    p.write_text("<html><head><script>var a = 1;</script></head><body><img src='a.png'></body></html>",
                 encoding="utf-8")
    (doc,) = docs(p)
    assert doc.error and "vide.html" in doc.error and "no main text" in doc.error


# ------------------------------------------------------------------ .jsonl / stdin
def test_jsonl_records_and_errors_name_file_and_line():
    out = docs(FIXTURES / "corpus.jsonl")
    by_line = {d.line: d for d in out}
    assert by_line[1].id == "depeche-1" and by_line[1].title == "Les éleveurs manifestent à Rennes"
    assert by_line[1].date == "2023-02-01" and by_line[1].error is None
    assert by_line[2].id.endswith("corpus.jsonl:2") and by_line[2].source == "Presse Régionale"
    assert "corpus.jsonl:3" in by_line[3].error and "malformed JSON" in by_line[3].error
    assert "corpus.jsonl:4" in by_line[4].error and "'text'" in by_line[4].error
    assert "corpus.jsonl:5" in by_line[5].error and "JSON object" in by_line[5].error
    assert 6 not in by_line  # blank line
    assert by_line[7].error is None


def test_jsonl_from_stdin():
    data = "\n".join(json.dumps({"text": f"Phrase numéro {i} de l'entrée standard."}) for i in range(3))
    out = list(read_inputs(["-"], stdin=io.BytesIO(data.encode())))
    assert [d.id for d in out] == ["<stdin>:1", "<stdin>:2", "<stdin>:3"]
    assert all(d.path == "-" and d.error is None for d in out)


def test_jsonl_is_streamed_line_by_line_with_a_per_line_limit(tmp_path):
    p = tmp_path / "big.jsonl"
    with p.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": "Une première dépêche courte."}) + "\n")
        fh.write(json.dumps({"text": "x" * 5000}) + "\n")
        fh.write(json.dumps({"text": "Une troisième dépêche courte."}) + "\n")
    out = docs(p, max_bytes=1000)
    assert [d.error is None for d in out] == [True, False, True]
    assert "big.jsonl:2" in out[1].error and "too large" in out[1].error


def test_empty_jsonl(tmp_path):
    p = tmp_path / "vide.jsonl"
    p.write_text("\n\n", encoding="utf-8")
    (doc,) = docs(p)
    assert "empty" in doc.error and "vide.jsonl" in doc.error


def test_jsonl_line_in_cp1252(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes(json.dumps({"text": "Le député a présenté un amendement sur la sécurité routière."},
                             ensure_ascii=False).encode("cp1252") + b"\n")
    (doc,) = docs(p)
    assert doc.error is None and "sécurité" in doc.text
    assert any("UTF-8" in w for w in doc.warnings)


# ------------------------------------------------------------------ .csv
def test_csv_records():
    out = docs(FIXTURES / "corpus.csv")
    assert [d.id for d in out][0] == "c1"
    assert out[0].url == "https://www.journal-exemple.example/a/1" and out[0].date == "2023-09-04"
    assert "\"C'est un outil au service de la réussite\", a affirmé" in out[0].text
    assert out[1].id.endswith("corpus.csv:3") and out[1].title is None
    assert out[2].error and "corpus.csv:4" in out[2].error


def test_csv_without_text_column():
    (doc,) = docs(FIXTURES / "no_text.csv")
    assert doc.error and "no 'text' column" in doc.error and "no_text.csv" in doc.error


def test_csv_semicolon_delimiter(tmp_path):
    p = tmp_path / "pv.csv"
    p.write_text("id;text\nx1;Le maire a signé l'arrêté ce matin.\n", encoding="utf-8")
    (doc,) = docs(p)
    assert doc.id == "x1" and doc.text == "Le maire a signé l'arrêté ce matin."


# ------------------------------------------------------------------ bad input
def test_empty_file(tmp_path):
    p = tmp_path / "vide.txt"
    p.write_bytes(b"")
    (doc,) = docs(p)
    assert doc.error == f"{p}: empty file"


def test_whitespace_only_file(tmp_path):
    p = tmp_path / "blanc.txt"
    p.write_text("  \n\n \t\n", encoding="utf-8")
    (doc,) = docs(p)
    assert "empty file" in doc.error


def test_binary_file(tmp_path):
    p = tmp_path / "image.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4096))
    (doc,) = docs(p)
    assert doc.error and "binary" in doc.error and "image.txt" in doc.error


def test_cp1252_text_is_decoded_with_a_warning_naming_the_encoding(tmp_path):
    p = tmp_path / "ancien.txt"
    text = ("Élections régionales : la gauche en tête\n\nLes électeurs se sont déplacés en nombre dimanche "
            "pour désigner leurs représentants. Le taux de participation dépasse de loin celui de l'élection "
            "précédente, selon les premières estimations publiées à vingt heures.\n")
    p.write_bytes(text.encode("cp1252"))
    (doc,) = docs(p)
    assert doc.error is None
    assert "électeurs" in doc.text and doc.title.startswith("Élections régionales")
    (w,) = doc.warnings
    assert "ancien.txt" in w and "not valid UTF-8" in w
    assert "cp1252" in w or "cp1250" in w or "latin" in w or "iso8859" in w


def test_utf8_bom_and_utf16(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeff".encode("utf-8") + ARTICLE.encode("utf-8"))
    q = tmp_path / "seize.txt"
    q.write_bytes(ARTICLE.encode("utf-16"))
    a, b = docs(p, q)
    assert a.error is None and a.title == "Le festival ouvre ses portes" and not a.warnings
    assert b.error is None and b.title == "Le festival ouvre ses portes"


def test_file_over_the_size_limit_is_refused(tmp_path):
    p = tmp_path / "enorme.txt"
    line = ("Une ligne de texte en français qui se répète pour fabriquer un très gros fichier. " * 10 + "\n").encode()
    with p.open("wb") as fh:
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            fh.write(line)
    assert p.stat().st_size >= 50 * 1024 * 1024
    (doc,) = docs(p)  # default limit
    assert doc.error and "enorme.txt" in doc.error and "too large" in doc.error and "--max-bytes" in doc.error
    small = tmp_path / "petit.txt"
    small.write_text(ARTICLE, encoding="utf-8")
    (doc,) = docs(small, max_bytes=100)
    assert "too large" in doc.error
    (doc,) = docs(small, max_bytes=10_000)
    assert doc.error is None


def test_explicit_file_with_unknown_extension_is_read_as_text(tmp_path):
    p = tmp_path / "depeche.dat"
    p.write_text(ARTICLE, encoding="utf-8")
    (doc,) = docs(p)
    assert doc.error is None and doc.title == "Le festival ouvre ses portes"


def test_crlf_text_file(tmp_path):
    p = tmp_path / "windows.txt"
    p.write_bytes(("date 2023-04-01 https://exemple.example/a\r\n\r\n" + ARTICLE.replace("\n", "\r\n")).encode())
    (doc,) = docs(p)
    assert doc.url == "https://exemple.example/a" and doc.date == "2023-04-01"
    assert doc.title == "Le festival ouvre ses portes"
