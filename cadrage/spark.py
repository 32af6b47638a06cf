"""Scale-out scoring on Apache Spark: `cadrage score --engine spark` and `score_dataframe`.

The work is the CLI's, run inside Spark tasks: each task reads its inputs with the same readers
(`cadrage.ingest`), cleans and segments them with the same code, scores them with the same
`Scorer` and rolls each article up with the same `article_summary`. Spark only distributes it:

* inputs become *tasks* on the driver, without reading any text: one per .txt/.html/.csv file
  and one per chunk of ~500 lines of a JSONL file (cut at line boundaries, so record ids and
  error line numbers are those of a whole-file read); Parquet inputs and a caller's DataFrame
  are rows with a `text` column and optional `id`, `url`, `source`, `title`, `date`;
* `mapInArrow` scores Arrow batches of tasks (or rows) into one row per article: the summary
  columns plus a nested `sentences` array. The model is loaded once per Python worker and kept
  (`_scorer`); a model directory is shipped to the executors with `SparkContext.addFile` when
  the master is not local;
* the per-source table comes from Spark aggregations (counts, distinct (sentences, author-
  loaded) pairs per source, technique counts, top evidence by window) fed to the one formula in
  `cadrage.reliability` (`SourceAccumulator.from_stats(...).table()`).

Outputs of `score_paths(..., out="OUT.parquet")`, each written to a hidden temporary path and
renamed into place only when the whole job succeeded (sidecars first, the main dataset last, as
the CLI does):

    OUT.parquet/             sentence records (the CLI's JSONL fields + `source`, `path`), by source
    OUT.articles.parquet/    article summaries (the CLI's `.articles.jsonl`), by source
    OUT.sources.parquet/     the source table, one file
    OUT.sources.csv          the same table as the CLI's `.sources.csv` (local outputs only)

A failed input (unreadable, empty, no text after cleaning) is an article row with `error` set,
as in the CLI; non-French text keeps the CLI's warning on each of its records.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pyarrow as pa

from cadrage.ingest.articles import UNITS, articles_from_raw
from cadrage.ingest.readers import (
    DEFAULT_MAX_BYTES,
    JSONL,
    JsonlChunk,
    RawDocument,
    discover,
    from_mapping,
    jsonl_chunks,
    read_inputs,
    read_jsonl_chunk,
)
from cadrage.io import atomic_output
from cadrage.models.loading import load_model
from cadrage.outputs import write_sources_csv
from cadrage.reliability import SourceAccumulator, SourceStats, evidence_item, load_ratings
from cadrage.scoring import Scorer
from cadrage.summary import article_fields, article_summary
from cadrage.training.default_model import model_dir_for

MASTER_ENV = "SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
JSONL_CHUNK_LINES = 500
OUTPUT_ROWS = 256  # articles per Arrow batch handed back to Spark
RECORD_FIELDS = ("id", "url", "source", "title", "date")
LOG_CONFIG = Path(__file__).resolve().parent / "templates" / "spark-log4j2.properties"

_CUE = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()), ("technique", pa.string()),
                  ("origin", pa.string()), ("confidence", pa.float64())])
_SENTENCE = pa.struct([
    ("sentence_index", pa.int64()), ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
    ("loaded", pa.float64()), ("techniques", pa.map_(pa.string(), pa.float64())),
    ("stance", pa.map_(pa.string(), pa.float64())), ("voice", pa.string()), ("author_loaded", pa.bool_()),
    ("cues", pa.list_(_CUE)),
])
_EVIDENCE = pa.struct([("sentence_index", pa.int64()), ("text", pa.string()), ("score", pa.float64()),
                       ("techniques", pa.list_(pa.string())), ("cues", pa.list_(pa.string()))])
ARTICLE_SCHEMA = pa.schema([
    # `order`: the input order (task << 32 | record), which breaks evidence ties as the CLI does
    ("order", pa.int64()), ("article_id", pa.string()), ("path", pa.string()), ("url", pa.string()),
    ("source", pa.string()), ("title", pa.string()), ("date", pa.string()), ("error", pa.string()),
    ("warnings", pa.list_(pa.string())),
    ("n_sentences", pa.int64()), ("n_author", pa.int64()), ("n_reported", pa.int64()), ("n_loaded", pa.int64()),
    ("n_author_loaded", pa.int64()), ("author_loaded_share", pa.float64()), ("mean_loaded", pa.float64()),
    ("techniques", pa.struct([("author", pa.map_(pa.string(), pa.int64())), ("all", pa.map_(pa.string(), pa.int64()))])),
    ("stance", pa.struct([("mean", pa.map_(pa.string(), pa.float64())), ("counts", pa.map_(pa.string(), pa.int64()))])),
    ("evidence", pa.list_(_EVIDENCE)),
    ("sentences", pa.list_(_SENTENCE)),
])
"""One row per article: the CLI's article summary plus its sentence records."""

SOURCES_DDL = (
    "rank int, source string, status string, note string, reliability double, reliability_low double, "
    "reliability_high double, loaded_rate double, loaded_rate_low double, loaded_rate_high double, articles long, "
    "articles_scored long, articles_failed long, sentences long, author_loaded long, observed_rate double, "
    "mean_article_share double, effective_sentences double, "
    "top_techniques array<struct<technique:string,count:long>>, "
    "evidence array<struct<article_id:string,title:string,sentence_index:long,text:string,score:double,"
    "techniques:array<string>>>, external_rating string, rating_domain string"
)


class SparkUnavailable(RuntimeError):
    """Spark cannot start here; the message names the missing piece and how to install it."""


# --------------------------------------------------------------------------- session


def java_problem() -> str | None:
    """Why no usable Java (17 or newer, what Spark 4 needs) is found, or None."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={home} has no bin/java" if home else "no `java` on PATH and JAVA_HOME is not set"
        return (f"Spark needs Java 17 or newer: {where}; install it with `bash scripts/setup.sh --spark` "
                "(Debian's openjdk-17-jre-headless) or point JAVA_HOME at a JDK")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"Spark needs Java 17 or newer: {java} does not run ({e})"
    first = (out.stderr or out.stdout).strip().splitlines()[:1]
    version = first[0].split('"')[1] if first and first[0].count('"') >= 2 else ""
    major = version.split(".")[0]
    if not major.isdigit() or int(major) < 17:  # "1.8.0" is Java 8
        return f"Spark needs Java 17 or newer; {java} is {version or 'of unknown version'}"
    return None


def session(master: str | None = None, *, app_name: str = "cadrage", progress: bool = False):
    """A SparkSession on `master` ($SPARK_MASTER, else local[*]), or SparkUnavailable."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("PySpark is not installed: `bash scripts/setup.sh --spark` "
                               "(or pip install 'cadrage[spark]')") from None
    problem = java_problem()
    if problem:
        raise SparkUnavailable(problem)
    # Executors must run this interpreter (it has cadrage and its models' libraries), not
    # whatever `python3` is first on PATH; a cluster sets PYSPARK_PYTHON itself.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    spark = (SparkSession.builder.master(master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER)
             .appName(app_name)
             .config("spark.ui.showConsoleProgress", str(progress).lower())
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _is_local(spark) -> bool:
    return spark.sparkContext.master.startswith("local")


# --------------------------------------------------------------------------- executor side


@dataclass(frozen=True)
class ScoringOptions:
    """What each task needs to score: the model (a directory, or the name it was shipped under
    with addFile) and the CLI's scoring options."""

    model_dir: str
    shipped: bool = False
    unit: str = "article"
    batch_size: int = 256
    model_cues: bool = True
    runtime: str | None = None
    quantize: str | None = None
    threads: int | None = 1  # one Spark task per core: more threads would oversubscribe it
    max_bytes: int = DEFAULT_MAX_BYTES
    detect_language: bool = True


_SCORERS: dict[ScoringOptions, Scorer] = {}


def _scorer(options: ScoringOptions) -> Scorer:
    """The worker's Scorer for these options, loaded on the worker's first batch and kept (Spark
    reuses Python workers between tasks), so a model is loaded once per worker, not per task."""
    scorer = _SCORERS.get(options)
    if scorer is None:
        directory = options.model_dir
        if options.shipped:
            from pyspark import SparkFiles

            directory = SparkFiles.get(options.model_dir)
        runtime = {k: v for k, v in (("runtime", options.runtime), ("quantize", options.quantize),
                                      ("threads", options.threads)) if v}
        scorer = _SCORERS[options] = Scorer(load_model(directory, **runtime), model_cues=options.model_cues)
    return scorer


def _article_row(order: int, article, records: list[dict], loaded_threshold: float) -> dict[str, Any]:
    summary = article_summary(article_fields(article), records, loaded_threshold=loaded_threshold)
    sentences = [{k: v for k, v in r.items() if k not in ("article_id", "error")} for r in records]
    return {**summary, "order": order, "sentences": sentences}


def _score(scorer: Scorer, ordered: Iterable[tuple[int, Any]], options: ScoringOptions) -> Iterator[pa.RecordBatch]:
    """Article rows for (order, Article) pairs, as Arrow batches of at most OUTPUT_ROWS articles
    (one input batch of tasks can hold many thousands of articles)."""
    orders: list[int] = []

    def articles():
        for order, article in ordered:
            orders.append(order)
            yield article

    rows = []
    scored = scorer.score_articles(articles(), batch_sentences=options.batch_size)
    for k, (article, records) in enumerate(scored):
        rows.append(_article_row(orders[k], article, records, scorer.loaded_threshold))
        if len(rows) == OUTPUT_ROWS:
            yield pa.RecordBatch.from_pylist(rows, schema=ARTICLE_SCHEMA)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=ARTICLE_SCHEMA)


def _task_raws(task: Mapping[str, Any], options: ScoringOptions) -> Iterator[RawDocument]:
    if task["error"]:
        yield RawDocument(id=task["path"], path=task["path"], error=task["error"])
    elif task["fmt"] == JSONL:
        chunk = JsonlChunk(task["path"], task["start"], task["end"], task["first_line"], task["whole_file"])
        yield from read_jsonl_chunk(chunk, max_bytes=options.max_bytes)
    else:
        yield from read_inputs([task["path"]], max_bytes=options.max_bytes)


def score_tasks(batches: Iterable[pa.RecordBatch], options: ScoringOptions) -> Iterator[pa.RecordBatch]:
    """mapInArrow body for file tasks (see `input_tasks`)."""
    scorer = _scorer(options)
    for batch in batches:
        def ordered():
            for task in batch.to_pylist():
                raws = _task_raws(task, options)
                articles = articles_from_raw(raws, unit=options.unit, detect_language=options.detect_language)
                for k, article in enumerate(articles):
                    yield task["task"] << 32 | k, article
        yield from _score(scorer, ordered(), options)


def score_records(batches: Iterable[pa.RecordBatch], options: ScoringOptions, origin: str) -> Iterator[pa.RecordBatch]:
    """mapInArrow body for rows with a `text` column (Parquet, a caller's DataFrame); a row
    without `id` is named `<origin>#<order>`."""
    scorer = _scorer(options)
    for batch in batches:
        records = batch.to_pylist()
        raws = [from_mapping(r, rid=f"{origin}#{r['_order']}", path=r["_path"] or origin) for r in records]
        # one article (or one sentence record) per row, so orders pair with articles in turn
        articles = articles_from_raw(raws, unit=options.unit, detect_language=options.detect_language)
        yield from _score(scorer, zip((r["_order"] for r in records), articles), options)


# --------------------------------------------------------------------------- driver side


def input_tasks(spark, paths: Iterable[str], *, chunk_lines: int = JSONL_CHUNK_LINES):
    """A DataFrame of units of work for the files under `paths` (discovered as the CLI does; a
    path that cannot be read becomes a task that yields its error record)."""
    rows = []
    slots = 2 * spark.sparkContext.defaultParallelism
    for path, fmt, error in discover(paths):
        if path == "-":
            error = "-: standard input cannot be scored with --engine spark; write it to a file"
        if fmt == JSONL and not error:
            chunks = jsonl_chunks(path, lines=chunk_lines)
            if 1 < len(chunks) < slots:  # a file too small to keep every core busy: finer chunks
                chunks = jsonl_chunks(path, lines=max(1, len(chunks) * chunk_lines // slots))
            for c in chunks:
                rows.append((path, fmt, None, c.start, c.end, c.first_line, c.whole_file))
        else:
            rows.append((path, fmt, error, 0, 0, 1, True))
    schema = ("task long, path string, fmt string, error string, start long, end long, first_line long, "
              "whole_file boolean")
    data = [(i, *row) for i, row in enumerate(rows)]
    return spark.createDataFrame(data, schema).repartition(max(1, min(len(data), spark.sparkContext.defaultParallelism * 4)))


def _options(spark, model: str | os.PathLike | None, ship_model: bool | None, **kwargs: Any) -> ScoringOptions:
    directory = model_dir_for(None if model is None else os.fspath(model)).resolve()
    load_model(directory)  # a bad model fails here, once, with its ModelLoadError, not in every task
    if ship_model if ship_model is not None else not _is_local(spark):
        spark.sparkContext.addFile(str(directory), recursive=True)
        return ScoringOptions(model_dir=directory.name, shipped=True, **kwargs)
    return ScoringOptions(model_dir=str(directory), **kwargs)


def _arrow_batch(spark, records_per_batch: int | None) -> None:
    if records_per_batch:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(int(records_per_batch)))


def score_dataframe(df, model: str | os.PathLike | None = None, *, ship_model: bool | None = None,
                    records_per_batch: int | None = None, origin: str = "dataframe", **options: Any):
    """Scores a DataFrame with a `text` column (and optional `id`, `url`, `source`, `title`,
    `date`): one row per article (ARTICLE_SCHEMA: summary columns, nested `sentences`).

    `model`: a built-in name (None: the default), a model directory, `models:/cadrage@champion`
    or `runs:/ID/model`. `options`: ScoringOptions fields (unit, batch_size, model_cues, runtime,
    quantize, threads, max_bytes, detect_language)."""
    if "text" not in df.columns:
        raise ValueError(f"{origin}: no 'text' column (columns: {', '.join(df.columns)})")
    spark = df.sparkSession
    _arrow_batch(spark, records_per_batch)
    return _score_records(df, _options(spark, model, ship_model, **options), origin)


def _score_records(df, opts: ScoringOptions, origin: str):
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    def column(name: str):
        return (F.col(name).cast("string") if name in df.columns else F.lit(None).cast("string")).alias(name)

    rows = df.select(column("text"), *map(column, RECORD_FIELDS), column("_path"))
    rows = rows.withColumn("_order", F.monotonically_increasing_id())
    return rows.mapInArrow(lambda batches: score_records(batches, opts, origin), from_arrow_schema(ARTICLE_SCHEMA))


def score_files(spark, paths: Iterable[str], model: str | os.PathLike | None = None, *, ship_model: bool | None = None,
                records_per_batch: int | None = None, chunk_lines: int = JSONL_CHUNK_LINES, **options: Any):
    """Scores files and folders (.txt, .html, .jsonl, .csv; .parquet files or folders of them are
    read as record tables) into article rows, like `score_dataframe`."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    paths = list(paths)
    parquet = [p for p in paths if _is_parquet(p)]
    others = [p for p in paths if p not in parquet]
    opts = _options(spark, model, ship_model, **options)
    _arrow_batch(spark, records_per_batch)
    scored = None
    if others:
        tasks = input_tasks(spark, others, chunk_lines=chunk_lines)
        scored = tasks.mapInArrow(lambda batches: score_tasks(batches, opts), from_arrow_schema(ARTICLE_SCHEMA))
    for k, path in enumerate(parquet):
        df = spark.read.parquet(path)
        if "text" not in df.columns:
            raise ValueError(f"{path}: no 'text' column (columns: {', '.join(df.columns)})")
        part = _score_records(df.withColumn("_path", F.lit(path)), opts, path)
        # each Parquet input after the files, in its own range of `order`
        part = part.withColumn("order", F.col("order") + F.lit((k + 1) << 52))
        scored = part if scored is None else scored.unionByName(part)
    return scored


def _is_parquet(path: str) -> bool:
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        return True
    return p.is_dir() and any(p.glob("*.parquet")) and not any(f.suffix.lower() in (".jsonl", ".txt", ".html", ".csv")
                                                             for f in p.iterdir())


def sentence_rows(scored):
    """One row per sentence (a failed article: one row with `error`), the CLI's JSONL fields plus
    `source` and `path`."""
    from pyspark.sql import functions as F

    exploded = scored.select("order", "article_id", "path", "source", "warnings", "error",
                             F.explode_outer("sentences").alias("s"))
    return exploded.select(
        "article_id", "s.sentence_index", "s.start", "s.end", "s.text", "s.loaded", "s.techniques", "s.stance",
        "s.voice", "s.author_loaded", "s.cues", "error", "warnings", "path", "source")


def article_rows(scored):
    """The article summaries (the CLI's `.articles.jsonl` fields)."""
    return scored.drop("sentences", "order")


def source_stats(scored) -> list[SourceStats]:
    """Per-source statistics of the scored articles, by Spark aggregations; only O(sources ×
    distinct article sizes) values reach the driver."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ok = F.col("error").isNull() & (F.col("n_sentences") > 0)
    totals = scored.groupBy("source").agg(
        F.count(F.lit(1)).alias("articles"),
        F.sum(F.col("error").isNotNull().cast("long")).alias("failed"),
        F.sum((F.col("error").isNull() & (F.col("n_sentences") == 0)).cast("long")).alias("empty"),
        F.sum(F.when(ok, F.col("n_sentences")).otherwise(0)).alias("sentences"),
        F.sum(F.when(ok, F.col("n_author_loaded")).otherwise(0)).alias("author_loaded"),
    ).collect()
    scored_ok = scored.where(ok)
    pairs = scored_ok.groupBy("source", "n_sentences", "n_author_loaded").count().collect()
    techniques = (scored_ok.select("source", F.explode("techniques.author").alias("technique", "n"))
                  .groupBy("source", "technique").agg(F.sum("n").alias("n")).collect())
    ranked = Window.partitionBy("source").orderBy(F.col("e.score").desc(), F.col("order"), F.col("k"))
    evidence = (scored_ok.select("source", "order", "article_id", "title", F.posexplode("evidence").alias("k", "e"))
                .withColumn("rank", F.row_number().over(ranked)).where(F.col("rank") <= 5).collect())

    stats = {r["source"]: SourceStats(r["source"], articles=r["articles"], failed=r["failed"], empty=r["empty"],
                                      sentences=r["sentences"], author_loaded=r["author_loaded"]) for r in totals}
    for r in pairs:
        stats[r["source"]].pairs[(r["n_sentences"], r["n_author_loaded"])] = r["count"]
    for r in techniques:
        stats[r["source"]].techniques[r["technique"]] = r["n"]
    for r in sorted(evidence, key=lambda r: r["rank"]):
        item = evidence_item(r.asDict(), r["e"].asDict())
        stats[r["source"]].add_evidence(item, seq=r["rank"])
    return list(stats.values())


def source_table(scored, *, ratings: Mapping[str, Any] | str | os.PathLike | None = None,
                 min_articles: int = 3) -> list[dict[str, Any]]:
    """The per-source reliability table, as `cadrage score` computes it."""
    return SourceAccumulator.from_stats(source_stats(scored)).table(min_articles=min_articles, ratings=ratings)


# --------------------------------------------------------------------------- writing


def output_paths(out: str) -> dict[str, str]:
    """Where each output of `score_paths` goes, beside `out` (OUT.parquet). String operations,
    not pathlib, so that URIs (hdfs:///…) keep their slashes."""
    stem = out[: -len(".parquet")] if out.endswith(".parquet") else out
    return {"sentences": out, "articles": stem + ".articles.parquet", "sources": stem + ".sources.parquet",
            "sources_csv": stem + ".sources.csv"}


class _Staging:
    """Temporary siblings of the outputs, renamed over them only by `commit` (through Hadoop's
    FileSystem, so that hdfs:// or s3a:// outputs work as local ones do); `discard` removes them."""

    def __init__(self, spark):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self.staged: list[tuple[str, str]] = []

    def _fs(self, path: str):
        p = self._jvm.org.apache.hadoop.fs.Path(path)
        return p.getFileSystem(self._conf), p

    def temporary(self, final: str) -> str:
        fs, p = self._fs(final)
        parent = p.getParent()
        if parent is not None and not fs.exists(parent):
            raise FileNotFoundError(f"cannot write {final}: directory {parent} does not exist")
        tmp = str(self._jvm.org.apache.hadoop.fs.Path(parent, f".{p.getName()}.tmp-{uuid.uuid4().hex[:8]}"))
        self.staged.append((tmp, final))
        return tmp

    def commit(self) -> None:
        for tmp, final in self.staged:
            fs, target = self._fs(final)
            _, source = self._fs(tmp)
            old = None
            if fs.exists(target):
                old = self._jvm.org.apache.hadoop.fs.Path(target.getParent(), f".{target.getName()}.old-{uuid.uuid4().hex[:8]}")
                fs.rename(target, old)
            if not fs.rename(source, target):
                if old is not None:
                    fs.rename(old, target)
                raise OSError(f"cannot move {tmp} to {final}")
            if old is not None:
                fs.delete(old, True)
        self.staged = []

    def discard(self) -> None:
        for tmp, _ in self.staged:
            fs, p = self._fs(tmp)
            if fs.exists(p):
                fs.delete(p, True)
        self.staged = []


def _local(path: str) -> bool:
    return "://" not in path or path.startswith("file:")


def write_outputs(spark, scored, out: str, *, ratings: Mapping[str, Any] | None = None,
                  min_articles: int = 3) -> dict[str, Any]:
    """Writes the sentence, article and source datasets (see the module doc) all-or-nothing; the
    counts and the source table come back."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    paths = output_paths(os.path.abspath(out) if "://" not in out and not out.startswith("file:") else out)
    staging = _Staging(spark)
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)  # scored once, read by every output
    try:
        articles = article_rows(scored)
        articles.repartition("source").write.partitionBy("source").parquet(staging.temporary(paths["articles"]))
        table = source_table(scored, ratings=ratings, min_articles=min_articles)
        sources = spark.createDataFrame([_source_row(r) for r in table], SOURCES_DDL)
        sources.coalesce(1).write.parquet(staging.temporary(paths["sources"]))
        sentences = sentence_rows(scored)
        sentences.repartition("source").write.partitionBy("source").parquet(staging.temporary(paths["sentences"]))
        counts = scored.agg(
            F.count(F.lit(1)).alias("articles"), F.sum(F.col("error").isNotNull().cast("long")).alias("failed"),
            F.sum(F.coalesce("n_sentences", F.lit(0))).alias("sentences"),
            F.sum(F.coalesce("n_author_loaded", F.lit(0))).alias("author_loaded")).first().asDict()
        if _local(paths["sources_csv"]):
            with atomic_output(paths["sources_csv"].removeprefix("file:"), encoding="utf-8-sig") as f:
                write_sources_csv(f, table)
        staging.commit()
    except BaseException:
        staging.discard()
        raise
    finally:
        scored.unpersist()
    return {**{k: int(v or 0) for k, v in counts.items()}, "sources": table}


def _source_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["top_techniques"] = [{"technique": t, "count": int(c)} for t, c in row.get("top_techniques") or []]
    rating = row.get("external_rating")
    out["external_rating"] = None if rating is None else str(rating)
    return out


def score_paths(paths: Iterable[str], out: str, *, model: str | None = None, master: str | None = None,
                ratings: str | None = None, min_articles: int = 3, progress: bool = False,
                **options: Any) -> dict[str, Any]:
    """The job behind `cadrage score --engine spark`: score `paths` and write `out` and its
    sidecars; returns the counts."""
    if options.get("unit", "article") not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    table_ratings = load_ratings(ratings) if ratings else None
    spark = session(master, progress=progress)
    scored = score_files(spark, paths, model, **options)
    return write_outputs(spark, scored, out, ratings=table_ratings, min_articles=min_articles)


__all__ = ["ARTICLE_SCHEMA", "ScoringOptions", "SparkUnavailable", "article_rows", "score_dataframe", "score_files",
           "score_paths", "sentence_rows", "session", "source_table", "write_outputs"]
