"""The `cadrage` command: one sub-command per job, each implemented in its own module."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cadrage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    from cadrage import ingest

    ingest.add_arguments(sub.add_parser("ingest", help="extract, clean and segment articles to JSONL"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
