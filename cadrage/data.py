"""Labelled data: reading any supported file into canonical rows, validating them, splitting them.

A canonical row is a dict with `id`, `text` and whichever labels the source has; a label the
source lacks is None (the model masks it) rather than a guessed default.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

LABEL_FIELDS = ("techniques", "loaded", "stance", "voice", "cues")
META_FIELDS = ("article_id", "topic", "source", "hard_negative")


class DataError(ValueError):
    """Invalid labelled data; `problems` lists every problem as 'file:row: reason'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the data:\n  {shown}{more}")


@dataclass(frozen=True)
class Vocab:
    """The label names a dataset is checked against."""

    techniques: frozenset[str]
    stance: frozenset[str]
    voice: frozenset[str]
    hard_negative: frozenset[str]

    @classmethod
    def from_schema_file(cls, raw: dict) -> "Vocab":
        return cls(
            techniques=frozenset(raw["techniques"]),
            stance=frozenset(raw["stance"]["labels"]),
            voice=frozenset(raw["voice"]["labels"]),
            hard_negative=frozenset(raw.get("hard_negative_kinds", [])),
        )


def files_fingerprint(paths: Iterable[Path]) -> str:
    """Short digest of the names and bytes of files (folders: every file under them)."""
    h = hashlib.sha256()
    for p in paths:
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def read_records(path: str | Path) -> list[dict]:
    """Rows of a JSONL / CSV / Parquet file (or a folder of JSONL files) through `datasets`."""
    import datasets

    path = Path(path)
    if path.is_dir():
        files = sorted(str(p) for p in path.glob("*.jsonl"))
        if not files:
            raise DataError([f"{path}: no .jsonl files in this folder"])
        kind = "json"
    else:
        if not path.exists():
            raise DataError([f"{path}: no such file"])
        suffix = path.suffix.lower()
        kind = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(suffix)
        if kind is None:
            raise DataError([f"{path}: unsupported data format {suffix!r} (use .jsonl, .csv or .parquet)"])
        files = [str(path)]
    if kind == "json":
        # Read line by line ourselves so that a broken line is reported with its number;
        # pyarrow's JSON reader would also unify mixed types silently.
        rows = []
        for f in files:
            with open(f, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise DataError([f"{f}:{n}: invalid JSON ({e.msg})"]) from None
                    if not isinstance(row, dict):
                        raise DataError([f"{f}:{n}: a line must hold a JSON object"])
                    row["_origin"] = f"{Path(f).name}:{n}"
                    rows.append(row)
        return rows
    ds = datasets.load_dataset(kind, data_files=files, split="train")
    header_rows = 1 if kind == "csv" else 0
    return [dict(r, _origin=f"{path.name}:{i + 1 + header_rows}") for i, r in enumerate(ds)]


def label_list(value: Any) -> Any:
    """Techniques may come as a list or as a '|'/','-separated string (CSV)."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            return json.loads(value)
        sep = "|" if "|" in value else ","
        return [v.strip() for v in value.split(sep) if v.strip()]
    return value


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def canonical_rows(records: Iterable[dict], vocab: Vocab, origin: str = "data") -> list[dict]:
    """Validate records and return canonical rows; raise DataError listing every problem."""
    rows: list[dict] = []
    problems: list[str] = []
    seen_ids: dict[str, str] = {}
    for i, rec in enumerate(records):
        where = f"{origin}:{rec.get('_origin', i + 1)}"
        bad = lambda reason, where=where: problems.append(f"{where}: {reason}")  # noqa: E731
        text = rec.get("text")
        if not isinstance(text, str):
            bad(f"'text' must be a string, got {type(text).__name__}")
            continue
        if not text.strip():
            bad("empty text")
            continue
        row: dict[str, Any] = {"text": text}
        for key in META_FIELDS:
            row[key] = None if is_missing(rec.get(key)) else rec.get(key)
        rid = rec.get("id")
        row["id"] = str(rid) if not is_missing(rid) else None
        if row["id"] is not None:
            if row["id"] in seen_ids:
                bad(f"duplicate id {row['id']!r} (first at {seen_ids[row['id']]})")
            seen_ids[row["id"]] = where

        techniques = None if is_missing(rec.get("techniques")) and "techniques" not in rec else rec.get("techniques")
        if techniques is not None:
            try:
                techniques = label_list(techniques)
            except json.JSONDecodeError:
                bad("'techniques' is not a list")
                techniques = None
            if techniques is not None and not (isinstance(techniques, list) and all(isinstance(t, str) for t in techniques)):
                bad(f"'techniques' must be a list of names, got {techniques!r}")
                techniques = None
            if techniques:
                unknown = sorted(set(techniques) - vocab.techniques)
                if unknown:
                    bad(f"unknown technique(s) {unknown}")
        row["techniques"] = techniques

        loaded = rec.get("loaded")
        if is_missing(loaded):
            loaded = None if techniques is None else int(bool(techniques))
        elif isinstance(loaded, bool) or loaded in (0, 1) and not isinstance(loaded, str):
            loaded = int(loaded)
        else:
            bad(f"'loaded' must be 0 or 1, got {loaded!r}")
            loaded = None
        if loaded is not None and techniques is not None and loaded != int(bool(techniques)):
            bad(f"'loaded'={loaded} disagrees with techniques {techniques}")
        row["loaded"] = loaded

        for key, allowed in (("stance", vocab.stance), ("voice", vocab.voice)):
            value = rec.get(key)
            if is_missing(value):
                row[key] = None
            elif not isinstance(value, str) or value not in allowed:
                bad(f"unknown {key} {value!r} (expected one of {sorted(allowed)})")
                row[key] = None
            else:
                row[key] = value
        if row["hard_negative"] is not None and row["hard_negative"] not in vocab.hard_negative:
            bad(f"unknown hard_negative {row['hard_negative']!r}")

        row["cues"] = _cue_spans(rec.get("cues"), text, techniques, bad)
        rows.append(row)
    if problems:
        raise DataError(problems)
    return rows


def _cue_spans(cues: Any, text: str, techniques: list[str] | None, bad) -> list[dict] | None:
    """Cues as character spans; a cue given by its text is located in the sentence."""
    if is_missing(cues):
        return None
    if isinstance(cues, str):
        try:
            cues = json.loads(cues)
        except json.JSONDecodeError:
            bad("'cues' is not valid JSON")
            return None
    if not isinstance(cues, list):
        bad(f"'cues' must be a list, got {type(cues).__name__}")
        return None
    spans = []
    for cue in cues:
        if not isinstance(cue, dict):
            bad(f"a cue must be an object, got {cue!r}")
            continue
        technique = cue.get("technique")
        if techniques is not None and technique not in techniques:
            bad(f"cue technique {technique!r} is not among the row's techniques")
        if "start" in cue and "end" in cue:
            start, end = cue["start"], cue["end"]
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                bad(f"cue offsets {start}..{end} lie outside the text (length {len(text)})")
                continue
        elif isinstance(cue.get("text"), str):
            start = text.find(cue["text"])
            if start < 0:
                bad(f"cue {cue['text']!r} does not occur in the text")
                continue
            end = start + len(cue["text"])
        else:
            bad(f"a cue needs 'start'/'end' or 'text': {cue!r}")
            continue
        spans.append({"start": start, "end": end, "technique": technique})
    return spans


def assign_ids(rows: list[dict]) -> list[dict]:
    """Give rows without an id a stable one: `<article_id>-s<index within article>` or `row<N>`."""
    per_article: Counter[str] = Counter()
    for n, row in enumerate(rows):
        if row["article_id"] is None:
            row["article_id"] = row["id"] or f"row{n}"
        index = per_article[row["article_id"]]
        per_article[row["article_id"]] += 1
        if row["id"] is None:
            row["id"] = f"{row['article_id']}-s{index:02d}"
    return rows


def near_duplicate_pairs(texts: list[str], threshold: float) -> list[tuple[int, int, float]]:
    """Index pairs whose character n-gram TF-IDF cosine similarity is at least `threshold`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < 2:
        return []
    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True).fit_transform(texts)
    sims = (x @ x.T).tocoo()
    return [
        (int(i), int(j), float(s))
        for i, j, s in zip(sims.row, sims.col, sims.data)
        if i < j and s >= threshold
    ]


def grouped_splits(rows: list[dict], dev: float, test: float, seed: int, near_dup: float) -> dict[str, list[dict]]:
    """train/dev/test split grouped by article and stratified by `loaded`.

    Articles holding near-duplicate sentences are merged into one group first, so that no
    near-duplicate pair can straddle two splits.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    articles = sorted({r["article_id"] for r in rows})
    parent = {a: a for a in articles}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j, _ in near_duplicate_pairs([r["text"] for r in rows], near_dup):
        ri, rj = root(rows[i]["article_id"]), root(rows[j]["article_id"])
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups = [root(r["article_id"]) for r in rows]
    strata = [r["loaded"] if r["loaded"] is not None else 2 for r in rows]

    n_folds = max(3, round(1 / min(dev, test)))
    folds = list(StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows, strata, groups))
    test_idx = set(folds[0][1].tolist())
    n_dev_folds = max(1, round(dev * n_folds))
    dev_idx = set().union(*(folds[k][1].tolist() for k in range(1, 1 + n_dev_folds)))
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for n, row in enumerate(rows):
        name = "test" if n in test_idx else "dev" if n in dev_idx else "train"
        splits[name].append(row)
    return splits
