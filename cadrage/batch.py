"""`cadrage score`: stream articles through ingestion, the scorer and a writer.

Articles are read, scored and written one batch at a time, so memory stays flat however many
articles there are; only per-source counters grow (with the number of sources)."""
from __future__ import annotations

import argparse
import sys

from cadrage.ingest.articles import iter_articles
from cadrage.io import run_interruptible
from cadrage.models.artifacts import ModelLoadError
from cadrage.models.loading import load_model
from cadrage.outputs import FORMATS, OutputError, format_from_path, open_writer
from cadrage.reliability import RatingsError, load_ratings
from cadrage.scoring import Scorer
from cadrage import spark
from cadrage.spark import MASTER_ENV
from cadrage.summary import article_fields
from cadrage.training.default_model import model_dir_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders, globs, or - for JSONL on stdin")
    parser.add_argument("--model", help="a built-in model (default, linear, linear-e5: built on first use), a model directory, "
                        "models:/cadrage@alias or runs:/ID/model (default: the embedded default model)")
    parser.add_argument("--unit", choices=("article", "sentence"), default="article",
                        help="sentence: each input record is one sentence (no segmentation)")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from --out's extension, else jsonl)")
    parser.add_argument("--out", default="-", help="output file (default: JSONL on stdout)")
    parser.add_argument("--ratings", help="CSV of domain → external rating, shown beside our score")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    parser.add_argument("--no-model-cues", action="store_true",
                        help="cues from the lexicon only (model cues cost about one extra model call per word "
                             "of each loaded sentence the lexicon does not explain)")
    parser.add_argument("--batch-size", type=int, default=256, help="sentences per model batch")
    parser.add_argument("--backend", choices=("torch", "onnx"),
                        help="how a transformer model runs (default torch; onnx exports on first use and caches it)")
    parser.add_argument("--quantize", choices=("none", "int8"), help="with --backend onnx: int8 dynamic quantization")
    parser.add_argument("--threads", type=int, help="intra-op threads (default: physical cores; 1 per task with spark)")
    parser.add_argument("--engine", choices=("local", "spark"), default="local",
                        help="spark: score on Apache Spark (--out OUT.parquet; see README, Scale-out)")
    parser.add_argument("--master", help=f"with --engine spark: the Spark master (default ${MASTER_ENV}, else local[*])")
    parser.add_argument("--records-per-batch", type=int,
                        help="with --engine spark: input rows per Arrow batch (Spark's default 10,000)")
    parser.set_defaults(run=run)


def resolve_model(name: str | None, **options):
    """Load the model before any work starts, so that a bad --model fails fast."""
    return load_model(model_dir_for(name), **options)


def run(args: argparse.Namespace) -> int:
    return run_interruptible("cadrage score", lambda: _run_spark(args) if args.engine == "spark" else _run(args))


def _run_spark(args: argparse.Namespace) -> int:
    if args.out == "-" or (args.format or "parquet") != "parquet" or not args.out.endswith(".parquet"):
        print("cadrage score: --engine spark writes Parquet: give --out OUT.parquet", file=sys.stderr)
        return 1
    options = {"runtime": args.backend, "quantize": args.quantize, "threads": args.threads or 1,
               "unit": args.unit, "batch_size": args.batch_size, "model_cues": not args.no_model_cues}
    try:
        counts = spark.score_paths(args.paths, args.out, model=args.model, master=args.master, ratings=args.ratings,
                                   records_per_batch=args.records_per_batch, progress=not args.quiet and sys.stderr.isatty(),
                                   **options)
    except (spark.SparkUnavailable, RatingsError, ModelLoadError, FileNotFoundError, ValueError) as e:
        print(f"cadrage score: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"cadrage score: {counts['articles']} articles ({counts['failed']} failed), {counts['sentences']} sentences, "
              f"{counts['author_loaded']} author-voice loaded → {args.out} (Spark)", file=sys.stderr)
    if counts["articles"] == counts["failed"]:
        return 1
    return 2 if counts["failed"] else 0


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # deferred: only a scoring run draws a progress bar

    try:
        fmt = args.format or ("jsonl" if args.out == "-" else format_from_path(args.out))
        ratings = load_ratings(args.ratings) if args.ratings else None
        options = {k: v for k, v in (("runtime", args.backend), ("quantize", args.quantize), ("threads", args.threads)) if v}
        model = resolve_model(args.model, **options)
    except (OutputError, RatingsError, ModelLoadError, FileNotFoundError) as e:
        print(f"cadrage score: {e}", file=sys.stderr)
        return 1
    scorer = Scorer(model, model_cues=not args.no_model_cues)
    meta = {"model": str(args.model or "default"), "backend": model.card["backend"], "model_name": model.card.get("name"),
            "runtime": getattr(model.backend, "runtime", None), "quantize": getattr(model.backend, "quantize", None)}
    progress = tqdm(desc="scoring", unit=" articles", file=sys.stderr, disable=args.quiet or not sys.stderr.isatty())
    try:
        with open_writer(args.out, fmt, meta=meta, loaded_threshold=scorer.loaded_threshold) as writer:
            articles = iter_articles(args.paths, unit=args.unit)
            for article, sentences in scorer.score_articles(articles, batch_sentences=args.batch_size):
                writer.write_article(article_fields(article), sentences)
                progress.update()
            writer.close(writer.source_table(ratings=ratings))
    except OutputError as e:
        print(f"cadrage score: {e}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    if not args.quiet:
        print(f"cadrage score: {writer.n_articles} articles ({writer.n_failed} failed), {writer.n_sentences} sentences, "
              f"{writer.n_author_loaded} author-voice loaded" + (f" → {args.out}" if args.out != "-" else ""), file=sys.stderr)
    if writer.n_articles == writer.n_failed:  # nothing read, or nothing scored
        return 1
    return 2 if writer.n_failed else 0
