"""Evaluation data: a prepared split, any user JSONL/CSV/Parquet, a SemEval-2023 Task 3 folder, or
the real-text set by name (`real-dev`, `real-test`: cadrage.realtext), read into canonical rows (cadrage.data). Label names the project's schema does not know are
accepted here (not rejected as in training): they are reported as extra labels and left out of
the per-label metrics, so a dataset with a different label set is still evaluated on the overlap."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cadrage.data import (
    DataError,
    Vocab,
    assign_ids,
    canonical_rows,
    is_missing,
    label_list,
    read_records,
)
from cadrage.realtext import SPLITS as REAL_SPLITS
from cadrage.realtext import RealTextError, real_rows
from cadrage.schema import DEFAULT_SCHEMA_PATH, load_schema_file
from cadrage.semeval import LABELS_SUFFIX, is_semeval_dir, read_semeval


@dataclass
class EvalData:
    path: Path
    tag: str  # a short name for the data (file stem or folder name), used in MLflow keys
    format: str  # jsonl | csv | parquet | semeval
    rows: list[dict]
    task_techniques: list[str] = field(default_factory=list)  # the full taxonomy (SemEval scoring)

    @property
    def n_articles(self) -> int:
        return len({r["article_id"] for r in self.rows})


def _format(path: Path) -> str:
    if path.is_dir():
        if is_semeval_dir(path):
            return "semeval"
        return "jsonl"
    if path.name.endswith(LABELS_SUFFIX):
        return "semeval"
    return {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}.get(path.suffix.lower(), path.suffix.lower().lstrip("."))


def _extended_vocab(records: list[dict], raw_schema: dict) -> Vocab:
    """The schema's vocabulary plus whatever label names the records use."""
    base = Vocab.from_schema_file(raw_schema)
    techniques, stance, voice = set(base.techniques), set(base.stance), set(base.voice)
    for rec in records:
        value = rec.get("techniques")
        if not is_missing(value):
            try:
                names = label_list(value)
            except ValueError:
                names = None
            if isinstance(names, list):
                techniques.update(t for t in names if isinstance(t, str))
        for key, bucket in (("stance", stance), ("voice", voice)):
            if isinstance(rec.get(key), str) and rec[key].strip():
                bucket.add(rec[key])
    return Vocab(frozenset(techniques), frozenset(stance), frozenset(voice), base.hard_negative)


def tag_of(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl", ".json", ".csv", ".parquet", ".txt"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "data"


def load_eval_data(path: str | Path, schema_path: str | Path = DEFAULT_SCHEMA_PATH) -> EvalData:
    """Canonical rows of `path`; DataError when it is missing, malformed, empty or unlabelled.
    `real-dev` / `real-test` name the real-text set (RealTextMissing without ../shared/real)."""
    if str(path) in REAL_SPLITS:
        try:
            records, fmt = real_rows(str(path)), "real"
        except RealTextError as e:
            raise DataError(str(e).splitlines()) from None
        path = Path(str(path))
    else:
        path = Path(path)
        if not path.exists():
            raise DataError([f"{path}: no such file or folder"])
        fmt = _format(path)
        records = read_semeval(path) if fmt == "semeval" else read_records(path)
    if not records:
        raise DataError([f"{path}: no rows to evaluate on (the data is empty)"])
    raw_schema = load_schema_file(schema_path)
    rows = assign_ids(canonical_rows(records, _extended_vocab(records, raw_schema), origin=str(path)))
    if not rows:
        raise DataError([f"{path}: no rows to evaluate on (the data is empty)"])
    if not any(r[k] is not None for r in rows for k in ("techniques", "loaded", "stance", "voice")):
        raise DataError([f"{path}: no row carries a label (techniques, loaded, stance or voice); nothing to evaluate against"])
    return EvalData(path, tag_of(path), fmt, rows, list(raw_schema["techniques"]))
