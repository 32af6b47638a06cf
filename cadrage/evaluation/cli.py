"""python -m eval --model M [--model M2 ...] --data D [--out DIR] [--seed N] [--bootstrap N]

M: a model directory, models:/cadrage@alias, models:/cadrage/<version>, runs:/<id>/model or a
bare MLflow run id (32 hex characters); `NAME=M` names the row. D: a prepared split JSONL, any
JSONL/CSV/Parquet with `text` and label columns (or a folder of JSONL), or a SemEval-2023 Task 3
articles folder. The lexicon-only baseline is always added as the reference row.
Exit status: 0 on success, 1 when the data or a model cannot be used (the message says why).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from cadrage import tracking
from cadrage.data import DataError
from cadrage.evaluation.core import Gold, evaluate_model
from cadrage.evaluation.data import load_eval_data
from cadrage.evaluation.models import (
    EvalModel,
    ModelSpecError,
    baseline_for,
    resolve_model,
    unique_names,
)
from cadrage.evaluation.report import (
    comparison_table,
    key,
    metrics_document,
    write_outputs,
    write_skipped,
)
from cadrage.metrics import ECE_BINS, group_bootstrap_weights
from cadrage.paths import ROOT
from cadrage.realtext import RealTextMissing

log = logging.getLogger("cadrage.eval")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--model", action="append", required=True, metavar="M", help="model to evaluate (repeatable)")
    p.add_argument("--data", required=True, metavar="D", help="evaluation data: a file or folder, or real-dev / real-test (the real-text set)")
    p.add_argument("--out", default=str(ROOT / "artifacts" / "eval"), metavar="DIR", help="output folder (default: artifacts/eval)")
    p.add_argument("--seed", type=int, default=13, help="bootstrap seed (default 13)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples; 0 = no intervals (default 1000)")
    p.add_argument("--errors", type=int, default=25, metavar="K", help="worst false positives/negatives kept per model and target (default 25)")
    p.add_argument("--no-mlflow", action="store_true", help="do not log the evaluation to the models' MLflow runs")
    args = p.parse_args(argv)
    if args.bootstrap < 0:
        p.error("--bootstrap must be >= 0")
    return args


def flat_numeric(d: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_numeric(v, name + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None and np.isfinite(v):
            out[name] = float(v)
    return out


def log_to_runs(evaluations, metrics_doc: dict, data, out: Path) -> list[str]:
    """Log each run-backed model's figures and the output files to its MLflow run. Returns the
    run ids logged; a run the tracking store does not hold is skipped with a warning."""

    targets = [ev for ev in evaluations if ev.model.run_id]
    if not targets:
        return []
    mlflow = tracking.setup()
    from mlflow import MlflowClient
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    logged = []
    for ev in targets:
        run_id = ev.model.run_id
        try:
            client.get_run(run_id)
        except MlflowException:
            print(f"eval: warning: MLflow run {run_id} of model {ev.model.name!r} is not in the tracking store "
                  f"{mlflow.get_tracking_uri()}; the evaluation is not logged there (set MLFLOW_TRACKING_URI)", file=sys.stderr)
            continue
        block = metrics_doc["models"][key(ev.model.name)]
        figures = {k: v for k, v in block.items() if k not in ("slices",)}
        figures.get("techniques", {}).pop("per_label", None)
        metrics = flat_numeric(figures, prefix=f"eval.{data.tag}.")
        items = sorted(metrics.items())
        for start in range(0, len(items), 500):
            client.log_batch(run_id, metrics=[Metric(k, v, _now_ms(), 0) for k, v in items[start:start + 500]])
        client.set_tag(run_id, f"eval.{data.tag}.data", str(data.path))
        for path in sorted(out.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                rel = path.parent.relative_to(out).as_posix()
                client.log_artifact(run_id, str(path), artifact_path=f"eval/{data.tag}" + ("" if rel == "." else f"/{rel}"))
        logged.append(run_id)
    return logged


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def in_sample_rows(model: EvalModel, data_path: str) -> int:
    """How many real-dev rows `model` was trained on, when the data evaluated is real-dev."""
    if model.is_baseline or str(data_path) != "real-dev":
        return 0
    return int((model.model.card.get("real_text") or {}).get("real_dev_training_rows", 0))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    try:
        data = load_eval_data(args.data)
    except RealTextMissing as e:
        # Not a failure: the real text is shared beside the project, not part of it. The pipeline
        # still gets its metric files, saying why they hold no figures.
        print(f"eval: skipped: {e}", file=sys.stderr)
        write_skipped(Path(args.out), str(e))
        return 0
    except DataError as e:
        print(f"eval: cannot use --data {args.data}: {e}", file=sys.stderr)
        return 1
    try:
        models = [resolve_model(spec) for spec in args.model]
    except ModelSpecError as e:
        print(f"eval: {e}", file=sys.stderr)
        return 1
    models.append(baseline_for(models))
    unique_names(models)

    gold = Gold(data.rows)
    weights, group_of_row = group_bootstrap_weights([r["article_id"] for r in data.rows], args.bootstrap, args.seed)
    settings = {"bootstrap": args.bootstrap, "seed": args.seed, "confidence": 0.95, "ece_bins": ECE_BINS}
    task_techniques = data.task_techniques if data.format == "semeval" else None
    evaluations = []
    for m in models:
        print(f"eval: {m.name} on {data.path} ({len(data.rows)} rows)", file=sys.stderr)
        ev = evaluate_model(m, gold, weights, group_of_row, task_techniques=task_techniques)
        for head, lab in ev.labels.items():
            if lab["extra_in_data"] and not m.is_baseline:
                print(f"eval: warning: {m.name}: {head} label(s) in the data that the model does not predict: "
                      f"{lab['extra_in_data']} (ignored; metrics use the overlap)", file=sys.stderr)
            if lab["missing_from_data"] and not m.is_baseline:
                print(f"eval: note: {m.name}: {head} label(s) with no example in the data: {lab['missing_from_data']}", file=sys.stderr)
        trained_on = in_sample_rows(m, data.path)
        if trained_on:
            print(f"eval: warning: {m.name} was trained on real-dev ({trained_on} rows): its real-dev "
                  "figures are in-sample and say nothing; its out-of-fold real-dev figures are in its model card "
                  "(real_text.real_dev_oof_flag)", file=sys.stderr)
        evaluations.append(ev)

    out = Path(args.out)
    write_outputs(evaluations, gold, data, settings, out, args.errors)
    print("\n".join(comparison_table(evaluations)))
    print(f"eval: wrote {out / 'metrics.json'}, {out / 'report.md'}, {out / 'errors.jsonl'} and plots/", file=sys.stderr)
    if not args.no_mlflow:
        try:
            logged = log_to_runs(evaluations, metrics_document(evaluations, gold, settings), data, out)
        except Exception as e:  # the evaluation itself succeeded; say why logging did not
            print(f"eval: warning: could not log to MLflow: {type(e).__name__}: {e}", file=sys.stderr)
        else:
            for run_id in logged:
                print(f"eval: logged to MLflow run {run_id}", file=sys.stderr)
    return 0
