"""The `cadrage` command: one sub-command per job, each implemented in its own module."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cadrage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    from cadrage import batch, export, ingest, serve, stats

    ingest.add_arguments(sub.add_parser("ingest", help="extract, clean and segment articles to JSONL"))
    batch.add_arguments(sub.add_parser("score", help="score articles into JSONL, CSV or an HTML report"))
    export.add_arguments(sub.add_parser("export-onnx", help="export a transformer model to ONNX Runtime (fp32 or int8)"))
    serve.add_arguments(sub.add_parser("serve", help="serve a registered model over REST (mlflow models serve)"))
    data = sub.add_parser("data", help="corpus tools").add_subparsers(dest="data_command", required=True)
    stats.add_arguments(data.add_parser("stats", help="counts per split, label, technique, slice; agreement"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
