"""`cadrage score`: stream articles through ingestion, the scorer and a writer.

Articles are read, scored and written one batch at a time, so memory stays flat however many
articles there are; only per-source counters grow (with the number of sources)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from cadrage.ingest.articles import iter_articles
from cadrage.io import run_interruptible
from cadrage.models.artifacts import ModelLoadError
from cadrage.models.loading import load_model
from cadrage.outputs import FORMATS, OutputError, format_from_path, open_writer
from cadrage.reliability import RatingsError, load_ratings
from cadrage.scoring import Scorer
from cadrage.tracking import resolve_model_dir
from cadrage.training.default_model import BUILT_IN, default_model_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders, globs, or - for JSONL on stdin")
    parser.add_argument("--model", help="a built-in model (default, linear: built on first use), a model directory, "
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
    parser.add_argument("--threads", type=int, help="intra-op threads (default: physical cores)")
    parser.set_defaults(run=run)


def article_fields(article: Any) -> dict:
    return {
        "article_id": article.id, "path": article.path, "url": article.url, "source": article.source,
        "title": article.title, "date": article.date, "warnings": list(article.warnings or []), "error": article.error,
    }


def resolve_model(name: str | None, **options):
    """Load the model before any work starts, so that a bad --model fails fast."""

    if name is None or name in BUILT_IN:
        return load_model(default_model_dir(name or "default"), **options)
    return load_model(resolve_model_dir(name), **options)


def run(args: argparse.Namespace) -> int:
    return run_interruptible("cadrage score", lambda: _run(args))


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
