"""`cadrage ingest`: record shape, exit codes, atomic output, bad input end to end."""
import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from cadrage.cli import main
from cadrage.ingest import articles as ingest
from cadrage.io import atomic_output

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
KEYS = ["id", "path", "url", "source", "title", "date", "text", "sentences", "warnings", "error"]

GOOD = ("Le festival ouvre ses portes\n\nLe festival de musique de la vallée a ouvert vendredi soir devant "
        "près de huit mille spectateurs. « Nous attendons une affluence record », a déclaré la directrice.\n")


def run_cli(capsys, *args):
    rc = main(["ingest", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def records_of(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check_record(r):
    assert list(r) == KEYS
    for s in r["sentences"]:
        assert list(s) == ["text", "start", "end", "voice", "reported_spans"]
        assert r["text"][s["start"]:s["end"]] == s["text"]
        assert s["voice"] in ("author", "reported")
        for a, b in s["reported_spans"]:
            assert 0 <= a < b <= len(s["text"])
    if r["error"]:
        assert r["sentences"] == [] and r["path"] in r["error"]


def test_good_file_to_stdout_exit_0(tmp_path, capsys):
    p = tmp_path / "festival.txt"
    p.write_text(GOOD, encoding="utf-8")
    rc, out, err = run_cli(capsys, p)
    assert rc == 0
    (r,) = records_of(out)
    check_record(r)
    assert r["id"] == str(p) and r["title"] == "Le festival ouvre ses portes" and r["error"] is None
    assert [s["voice"] for s in r["sentences"]] == ["author", "author", "reported"]
    assert "1 articles: 1 ok, 0 failed" in err and "3 sentences" in err


def test_fixture_directory_partial_failure_exit_2(tmp_path, capsys):
    out_file = tmp_path / "out.jsonl"
    rc, out, err = run_cli(capsys, FIXTURES, "--out", out_file)
    assert rc == 2 and out == ""
    recs = records_of(out_file.read_text(encoding="utf-8"))
    for r in recs:
        check_record(r)
    ok = [r for r in recs if not r["error"]]
    failed = [r for r in recs if r["error"]]
    assert len(ok) >= 8 and len(failed) >= 4
    assert f"{len(recs)} articles: {len(ok)} ok, {len(failed)} failed" in err
    assert [f for f in os.listdir(tmp_path)] == ["out.jsonl"]  # no temporary file left


def test_nothing_could_be_done_exit_1(tmp_path, capsys):
    empty = tmp_path / "vide.txt"
    empty.write_bytes(b"")
    rc, out, err = run_cli(capsys, empty, tmp_path / "absent.txt")
    assert rc == 1
    recs = records_of(out)
    assert len(recs) == 2 and all(r["error"] for r in recs)
    assert "vide.txt: empty file" in recs[0]["error"]


def test_bad_inputs_each_give_a_clear_record_and_the_rest_is_processed(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    (d / "01_bon.txt").write_text(GOOD, encoding="utf-8")
    (d / "02_vide.txt").write_bytes(b"")
    (d / "03_binaire.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" + os.urandom(2048))
    (d / "04_ancien.txt").write_bytes(
        ("Le conseil régional vote son budget\n\nLes élus régionaux ont adopté vendredi un budget en hausse, "
         "consacré pour moitié aux lycées et aux transports ferroviaires de la région.\n").encode("cp1252"))
    with (d / "05_enorme.txt").open("wb") as fh:
        chunk = ("Une phrase répétée pour grossir le fichier au-delà de la limite. " * 100 + "\n").encode()
        for _ in range(50 * 1024 * 1024 // len(chunk) + 1):
            fh.write(chunk)
    shutil.copy(FIXTURES / "html_as_text.txt", d / "06_page.txt")
    shutil.copy(FIXTURES / "english.txt", d / "07_anglais.txt")
    (d / "08_lignes.jsonl").write_text(
        json.dumps({"id": "ok-1", "text": "Le tribunal a rendu sa décision mardi. Le prévenu a été relaxé."},
                   ensure_ascii=False) + "\n{pas du json\n", encoding="utf-8")
    shutil.copy(FIXTURES / "no_text.csv", d / "09_sans_texte.csv")
    out_file = tmp_path / "out.jsonl"
    rc, _, err = run_cli(capsys, d, "--out", out_file)
    assert rc == 2
    recs = records_of(out_file.read_text(encoding="utf-8"))
    for r in recs:
        check_record(r)
    by = {Path(r["path"]).name + (f":{r['id']}" if r["path"].endswith(".jsonl") else ""): r for r in recs}
    assert by["01_bon.txt"]["error"] is None and by["01_bon.txt"]["sentences"]
    assert "02_vide.txt" in by["02_vide.txt"]["error"] and "empty" in by["02_vide.txt"]["error"]
    assert "binary" in by["03_binaire.txt"]["error"]
    anc = by["04_ancien.txt"]
    assert anc["error"] is None and "élus régionaux" in anc["text"]
    assert any("04_ancien.txt" in w and "not valid UTF-8" in w for w in anc["warnings"])
    assert "too large" in by["05_enorme.txt"]["error"]
    page = by["06_page.txt"]
    assert page["error"] is None and "<p>" not in page["text"]
    assert any("06_page.txt" in w and "HTML" in w for w in page["warnings"])
    en = by["07_anglais.txt"]
    assert en["error"] is None and en["sentences"]
    assert any("07_anglais.txt" in w and "not French" in w for w in en["warnings"])
    assert by["08_lignes.jsonl:ok-1"]["error"] is None
    bad_line = [r for r in recs if r["path"].endswith("08_lignes.jsonl") and r["error"]]
    assert len(bad_line) == 1 and "08_lignes.jsonl:2" in bad_line[0]["error"]
    assert "no 'text' column" in by["09_sans_texte.csv"]["error"]
    assert "ok" in err and "failed" in err


def test_output_is_atomic_on_failure(tmp_path, capsys, monkeypatch):
    src = tmp_path / "a.txt"
    src.write_text(GOOD, encoding="utf-8")
    out_file = tmp_path / "out.jsonl"
    out_file.write_text("ancien contenu\n", encoding="utf-8")
    calls = {"n": 0}
    real = ingest.to_record

    def flaky(article):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("panne simulée")
        return real(article)

    monkeypatch.setattr(ingest, "to_record", flaky)
    with pytest.raises(RuntimeError):
        main(["ingest", str(src), str(src), "--out", str(out_file)])
    assert out_file.read_text(encoding="utf-8") == "ancien contenu\n"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "out.jsonl"]


def test_atomic_output_helper(tmp_path, capsys):
    target = tmp_path / "r.jsonl"
    with atomic_output(target) as fh:
        fh.write("ligne\n")
        assert not target.exists()
    assert target.read_text(encoding="utf-8") == "ligne\n"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as fh:
            fh.write("moitié")
            raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == "ligne\n"
    assert os.listdir(tmp_path) == ["r.jsonl"]
    with atomic_output("-") as fh:
        assert fh is sys.stdout
        fh.write("vers stdout\n")
    assert capsys.readouterr().out == "vers stdout\n"


def test_jsonl_records_source_and_ids(capsys):
    rc, out, _ = run_cli(capsys, FIXTURES / "corpus.jsonl")
    assert rc == 2
    recs = records_of(out)
    r1, r2 = recs[0], recs[1]
    assert r1["id"] == "depeche-1" and r1["source"] == "agence-exemple.example"
    assert r1["text"].startswith("Les éleveurs manifestent à Rennes\n")  # the title is the first line
    assert r2["id"].endswith("corpus.jsonl:2") and r2["source"] == "Presse Régionale"
    rc2, out2, _ = run_cli(capsys, FIXTURES / "corpus.jsonl")
    assert [r["id"] for r in records_of(out2)] == [r["id"] for r in recs]  # stable


def test_stdin(monkeypatch, capsys):
    data = "\n".join(json.dumps({"url": "http://www.site-exemple.example/x", "text": t}, ensure_ascii=False)
                     for t in ["Le pont a rouvert lundi. La circulation reste difficile.",
                               "La mairie a lancé une consultation."])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode("utf-8"))))
    rc, out, _ = run_cli(capsys, "-")
    assert rc == 0
    recs = records_of(out)
    assert [r["id"] for r in recs] == ["<stdin>:1", "<stdin>:2"]
    assert recs[0]["source"] == "site-exemple.example" and len(recs[0]["sentences"]) == 2


def test_unit_sentence(tmp_path, capsys):
    p = tmp_path / "phrases.jsonl"
    p.write_text("\n".join(json.dumps({"id": f"s{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(
        ["« C'est une honte », a dénoncé le député. Il a quitté la salle.", "La séance a été levée."])) + "\n",
        encoding="utf-8")
    rc, out, err = run_cli(capsys, p, "--unit", "sentence")
    assert rc == 0
    recs = records_of(out)
    assert [r["id"] for r in recs] == ["s0", "s1"]
    assert [len(r["sentences"]) for r in recs] == [1, 1]  # no segmentation
    assert recs[0]["sentences"][0]["text"] == recs[0]["text"]
    assert "sentence records" in err


def test_max_bytes_option(tmp_path, capsys):
    p = tmp_path / "a.txt"
    p.write_text(GOOD, encoding="utf-8")
    rc, out, _ = run_cli(capsys, p, "--max-bytes", "100")
    assert rc == 1 and "too large" in records_of(out)[0]["error"]
    assert ingest.parse_size("50MB") == 50_000_000 and ingest.parse_size("512k") == 512_000


@pytest.mark.parametrize(
    "url,explicit,expected",
    [("https://www.exemple.example/a", None, "exemple.example"),
     ("https://fr.site.example/a", None, "fr.site.example"),
     ("https://WWW.Exemple.Example:8080/a", None, "exemple.example"),
     ("https://www.exemple.example/a", "Mon Journal", "Mon Journal"),
     (None, None, None)],
)
def test_source_of(url, explicit, expected):
    assert ingest.source_of(url, explicit) == expected


def test_iter_articles_is_lazy_and_exact(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(GOOD, encoding="utf-8")
    it = ingest.iter_articles([str(tmp_path)])
    first = next(it)
    assert isinstance(first, ingest.Article) and first.sentences
    assert all(first.text[s.start:s.end] == s.text for s in first.sentences)
    assert len(list(it)) == 2


def test_article_from_record():
    art = ingest.article_from_record(
        {"text": "Le pont a rouvert lundi. « Enfin ! », a lancé un riverain.", "url": "https://www.x.example/a"},
        origin="row 0")
    assert art.id == "row 0" and art.source == "x.example" and art.error is None
    assert [s.voice for s in art.sentences] == ["author", "reported"]
    one = ingest.article_from_record({"id": "s1", "text": "Une phrase. Puis une autre."}, origin="row 1", unit="sentence")
    assert one.id == "s1" and len(one.sentences) == 1
    bad = ingest.article_from_record({"title": "sans texte"}, origin="row 2")
    assert bad.error == "row 2: no 'text' field"
