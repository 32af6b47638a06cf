"""The `cadrage` command: one sub-command per job, each implemented in its own module."""
from __future__ import annotations

import argparse
import sys

from cadrage import batch, export, serve, stats
from cadrage.evaluation import cli as evaluation_cli
from cadrage.ingest import articles as ingest
from cadrage.training import cli as training_cli

# `cadrage train` / `cadrage eval` are `python -m train` / `python -m eval`, usable from any folder.
PASSTHROUGH = {"train": training_cli.main, "eval": evaluation_cli.main}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cadrage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest.add_arguments(sub.add_parser("ingest", help="extract, clean and segment articles to JSONL"))
    batch.add_arguments(sub.add_parser("score", help="score articles into JSONL, CSV or an HTML report"))
    export.add_arguments(sub.add_parser("export-onnx", help="export a transformer model to ONNX Runtime (fp32 or int8)"))
    serve.add_arguments(sub.add_parser("serve", help="serve a registered model over REST (mlflow models serve)"))
    data = sub.add_parser("data", help="corpus tools").add_subparsers(dest="data_command", required=True)
    stats.add_arguments(data.add_parser("stats", help="counts per split, label, technique, slice; agreement"))
    sub.add_parser("train", add_help=False, help="train a model (same arguments as python -m train)")
    sub.add_parser("eval", add_help=False, help="evaluate models (same arguments as python -m eval)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PASSTHROUGH:
        return int(PASSTHROUGH[argv[0]](argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
