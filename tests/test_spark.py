"""`cadrage score --engine spark` on a local[2] Spark: the same records, article summaries and
source table as the plain CLI, error rows for bad inputs, all-or-nothing reruns. Skipped with one
message when PySpark or Java is missing."""
from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from cadrage import spark as cspark
from cadrage.cli import main

pyspark = pytest.importorskip("pyspark", reason="PySpark is not installed (bash scripts/setup.sh --spark)")
if cspark.java_problem():
    pytest.skip(cspark.java_problem(), allow_module_level=True)

pq = pytest.importorskip("pyarrow.parquet")
pytestmark = pytest.mark.slow
FIXTURES = ROOT / "tests" / "fixtures" / "score"

# Our own sentences, recombined into articles of several sources (plain reporting and op-ed framing).
PLAIN = ["Le conseil municipal a voté le budget lundi soir.", "La séance a duré trois heures.",
         "Le maire a présenté les comptes de l'année.", "Les travaux de la gare commenceront en mars.",
         "Selon la préfecture, 1 200 personnes ont manifesté samedi.", "Le ministre a annoncé une hausse des crédits."]
FRAMED = ["Cette réforme scandaleuse est une trahison pure et simple.", "Ces irresponsables nous mènent droit au chaos.",
          "Le gouvernement prétend agir, mais chacun sait qu'il ment.", "Une catastrophe absolue, orchestrée par des incapables."]


def generated_articles(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    sources = ["gazette-nord.example", "le-tocsin.example", "radio-plaine.example", None]
    out = []
    for i in range(n):
        k = rng.randint(2, 7)
        text = " ".join(rng.choice(FRAMED if rng.random() < 0.3 else PLAIN) for _ in range(k))
        record = {"id": f"gen-{i}", "title": f"Article {i}", "text": text}
        source = rng.choice(sources)
        if source:
            record["url"] = f"https://www.{source}/a/{i}"
        out.append(record)
    return out


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def session():
    spark = cspark.session("local[2]")
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """The samples, the score fixtures and generated articles, with some bad records."""
    folder = tmp_path_factory.mktemp("inputs")
    shutil.copytree(ROOT / "samples", folder / "samples")
    shutil.copytree(FIXTURES, folder / "fixtures")
    records = generated_articles(40)
    records[5] = {"id": "sans-texte", "text": "   "}
    records[17] = "{pas du json"
    write_jsonl(folder / "generated.jsonl", records)
    (folder / "vide.txt").write_bytes(b"")
    (folder / "binaire.html").write_bytes(b"\x00\x01\x02" * 50)
    return folder


def cli_outputs(model_dir, paths, out: Path) -> dict:
    code = main(["score", *map(str, paths), "--model", str(model_dir), "--out", str(out), "--quiet"])
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    articles = [json.loads(line) for line in out.with_name(out.stem + ".articles.jsonl").read_text(encoding="utf-8").splitlines()]
    return {"code": code, "records": records, "articles": articles,
            "sources_csv": out.with_name(out.stem + ".sources.csv").read_text(encoding="utf-8-sig")}


def plain(value):
    """Parquet's shapes as JSON's: maps (lists of pairs) as dicts, cue fields left out when null."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {k: plain(v) for k, v in value}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not (k == "confidence" and v is None)}
    return value


def close(a, b) -> bool:
    if a == {} and b == [] or a == [] and b == {}:  # an empty Parquet map reads as an empty list
        return True
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def read_dataset(path: Path) -> list[dict]:
    return [plain(r) for r in pq.read_table(path).to_pylist()]


def assert_same_as_cli(cli: dict, out: Path) -> None:
    paths = cspark.output_paths(str(out))
    sentences = {(r["article_id"], r["sentence_index"]): r for r in read_dataset(out)}
    assert len(sentences) == len(cli["records"])
    for record in cli["records"]:
        mine = sentences[(record["article_id"], record["sentence_index"])]
        assert set(record) <= set(mine)
        for field, value in record.items():
            if field == "path" and value is None:
                continue
            assert close(value, mine[field]), (record["article_id"], record["sentence_index"], field, value, mine[field])
    articles = {a["article_id"]: a for a in read_dataset(Path(paths["articles"]))}
    assert len(articles) == len(cli["articles"])
    for summary in cli["articles"]:
        mine = articles[summary["article_id"]]
        for field, value in summary.items():
            assert close(value, mine[field]), (summary["article_id"], field, value, mine[field])
    assert Path(paths["sources_csv"]).read_text(encoding="utf-8-sig") == cli["sources_csv"]


def test_spark_job_gives_the_records_summaries_and_sources_of_the_cli(session, trained_linear, inputs, tmp_path):
    model = trained_linear["model_dir"]
    cli = cli_outputs(model, [inputs], tmp_path / "cli.jsonl")
    out = tmp_path / "scored.parquet"
    code = main(["score", str(inputs), "--engine", "spark", "--master", "local[2]", "--model", str(model),
                 "--out", str(out), "--quiet", "--records-per-batch", "7"])
    assert code == cli["code"] == 2  # bad inputs failed, the others were scored
    assert_same_as_cli(cli, out)

    errors = {r["article_id"]: r["error"] for r in read_dataset(out) if r["error"]}
    assert "sans-texte" in errors and "empty 'text'" in errors["sans-texte"]
    assert any(k.endswith("generated.jsonl:18") and "malformed JSON" in e for k, e in errors.items())
    assert any(k.endswith("vide.txt") and "empty file" in e for k, e in errors.items())
    assert any(k.endswith("binaire.html") and "binary" in e for k, e in errors.items())
    # partitioned by source; the source table is one Parquet file with the CSV's rows
    assert any(p.name.startswith("source=") for p in out.iterdir())
    sources = pq.read_table(cspark.output_paths(str(out))["sources"]).to_pylist()
    assert {s["source"] for s in sources} >= {"gazette-nord.example", "le-tocsin.example", "(source inconnue)"}
    ranked = [s for s in sources if s["status"] == "ranked"]
    assert [s["rank"] for s in ranked] == list(range(1, len(ranked) + 1))


def test_a_jsonl_file_cut_into_many_tasks_reads_as_one(session, trained_linear, inputs, tmp_path):
    data = inputs / "generated.jsonl"
    cli = cli_outputs(trained_linear["model_dir"], [data], tmp_path / "cli.jsonl")
    scored = cspark.score_files(session, [str(data)], trained_linear["model_dir"], chunk_lines=3)
    assert cspark.input_tasks(session, [str(data)], chunk_lines=3).count() == 14
    out = tmp_path / "chunks.parquet"
    cspark.write_outputs(session, scored, str(out))
    assert_same_as_cli(cli, out)


def test_score_dataframe_and_parquet_input(session, trained_linear, tmp_path):
    records = generated_articles(12, seed=3)
    for r in records[:4]:
        del r["id"]
    df = session.createDataFrame([{"text": r["text"], "id": r.get("id"), "url": r.get("url")} for r in records],
                                 "text string, id string, url string")
    rows = cspark.score_dataframe(df, trained_linear["model_dir"], ship_model=True).collect()
    assert len(rows) == 12 and not any(r["error"] for r in rows)
    assert sum(r["article_id"].startswith("dataframe#") for r in rows) == 4
    assert all(r["n_sentences"] == len(r["sentences"]) > 0 for r in rows)

    source = tmp_path / "in.parquet"
    df.write.parquet(str(source))
    out = tmp_path / "from-parquet.parquet"
    code = main(["score", str(source), "--engine", "spark", "--master", "local[2]", "--model",
                 str(trained_linear["model_dir"]), "--out", str(out), "--quiet"])
    assert code == 0
    by_id = {r["id"]: r for r in records if "id" in r}
    sentences = read_dataset(out)
    assert {r["article_id"] for r in sentences} >= set(by_id)
    assert sum(1 for r in sentences if r["article_id"] == "gen-5") == len(
        [r for r in rows if r["article_id"] == "gen-5"][0]["sentences"])


def test_a_failed_rerun_leaves_the_previous_outputs_and_no_temporary_files(session, trained_linear, inputs, tmp_path,
                                                                           monkeypatch):
    out = tmp_path / "run.parquet"
    model = str(trained_linear["model_dir"])
    assert main(["score", str(inputs / "fixtures"), "--engine", "spark", "--model", model, "--out", str(out), "--quiet"]) == 2
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    first = {r["article_id"] for r in read_dataset(out)}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cspark, "source_table", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        main(["score", str(inputs / "samples"), "--engine", "spark", "--model", model, "--out", str(out), "--quiet"])
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before
    monkeypatch.undo()

    assert main(["score", str(inputs / "samples"), "--engine", "spark", "--model", model, "--out", str(out), "--quiet"]) == 0
    second = {r["article_id"] for r in read_dataset(out)}
    assert "tribune-1" in first and second and not first & second  # replaced, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.articles.parquet", "run.parquet", "run.sources.csv",
                                                          "run.sources.parquet"]


def test_registry_alias_scores_like_the_model_directory(session, trained_linear, inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_linear["tracking_uri"])
    data = [str(inputs / "fixtures" / "tribunes.jsonl")]
    direct = cspark.score_files(session, data, trained_linear["model_dir"]).drop("path").collect()
    registry = cspark.score_files(session, data, "models:/cadrage@champion").drop("path").collect()
    assert sorted(map(str, direct)) == sorted(map(str, registry))


def test_missing_java_is_one_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert "JAVA_HOME" in cspark.java_problem() and "setup.sh --spark" in cspark.java_problem()
    code = main(["score", str(FIXTURES), "--engine", "spark", "--out", str(tmp_path / "o.parquet")])
    assert code == 1
    assert "Java 17" in capsys.readouterr().err and not list(tmp_path.glob("*o.parquet*"))


def test_spark_output_must_be_parquet(capsys, tmp_path):
    assert main(["score", str(FIXTURES), "--engine", "spark", "--out", str(tmp_path / "o.jsonl")]) == 1
    assert "--out OUT.parquet" in capsys.readouterr().err
