"""The `prepare` step: validate a labelled corpus and write grouped, stratified splits.

    python -m cadrage.prepare [--data data/authored] [--out data/prepared] [--params params.yaml]
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from cadrage.data import (
    DataError,
    Vocab,
    assign_ids,
    canonical_rows,
    grouped_splits,
    read_records,
)
from cadrage.io import atomic_output
from cadrage.paths import ROOT
from cadrage.schema import DEFAULT_SCHEMA_PATH, load_schema_file


@dataclass
class PrepareParams:
    data: str = "data/authored"
    out: str = "data/prepared"
    dev: float = 0.15
    test: float = 0.15
    seed: int = 13
    near_duplicate: float = 0.8


def load_corpus(path: str | Path, schema_path: str | Path = DEFAULT_SCHEMA_PATH) -> list[dict]:
    """Validated canonical rows of a corpus file or folder, with ids assigned."""
    vocab = Vocab.from_schema_file(load_schema_file(schema_path))
    return assign_ids(canonical_rows(read_records(path), vocab, origin=str(path)))


def prepared_splits(params: PrepareParams) -> dict[str, list[dict]]:
    rows = load_corpus(ROOT / params.data if not Path(params.data).is_absolute() else params.data)
    for name in ("dev", "test"):
        if not 0 < getattr(params, name) < 0.5:
            raise DataError([f"params: prepare.{name} must lie in (0, 0.5)"])
    splits = grouped_splits(rows, params.dev, params.test, params.seed, params.near_duplicate)
    for name, split in splits.items():
        if not split:
            raise DataError([f"{params.data}: the {name} split is empty (too little data)"])
    return splits


def write_splits(splits: dict[str, list[dict]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with atomic_output(out / f"{name}.jsonl") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def params_from_file(path: str | Path) -> PrepareParams:
    with open(path, encoding="utf-8") as f:
        section = (yaml.safe_load(f) or {}).get("prepare", {})
    unknown = set(section) - set(asdict(PrepareParams()))
    if unknown:
        raise SystemExit(f"{path}: unknown key(s) under 'prepare': {sorted(unknown)}")
    return PrepareParams(**section)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cadrage.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--data", help="corpus file or folder (overrides params)")
    parser.add_argument("--out", help="output folder for train/dev/test.jsonl (overrides params)")
    args = parser.parse_args(argv)
    params = params_from_file(args.params) if Path(args.params).exists() else PrepareParams()
    if args.data:
        params.data = args.data
    if args.out:
        params.out = args.out
    try:
        splits = prepared_splits(params)
    except DataError as e:
        print(f"prepare: {e}", file=sys.stderr)
        return 1
    out = Path(params.out)
    write_splits(splits, out if out.is_absolute() else ROOT / out)
    counts = {k: len(v) for k, v in splits.items()}
    print(f"prepare: wrote {counts} to {params.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
