"""SemEval-2023 Task 3 (subtask 3, persuasion techniques) importer and submission writer.

The task's layout, per language::

    <split>-articles-subtask-3/article<ID>.txt   one article per file; line 1 is the title, then
                                                 paragraphs, one per line, blank lines between
    <split>-labels-subtask-3.txt                 <ID>\\t<line number>\\t<technique>,<technique>,...

A paragraph is a non-empty line of an article file; its "line number" is its 1-based line number
in the file, blank lines included (so the title is line 1). An empty technique field means the
paragraph holds no technique (`loaded` 0). A paragraph the labels file does not list is read as
unlabelled (`techniques` None, masked in training and evaluation), never as "no technique".

`read_semeval(path)` accepts the articles folder (the labels file is looked for inside it, then
next to it with the same split prefix), a folder holding both, or the labels file itself. Rows
are records for `cadrage.data.canonical_rows`: `id` "<article>-<line>", `article_id`, `text`,
`techniques`, `loaded`, and `stance`/`voice` None (the task labels neither).

`write_subtask3(path, predictions)` writes the submission file the task's scorer reads.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from cadrage.data import DataError
from cadrage.io import atomic_output

ARTICLE_RE = re.compile(r"^article(?P<id>[^.\s]+)\.txt$")
LABELS_SUFFIX = "labels-subtask-3.txt"


def is_semeval_dir(path: str | Path) -> bool:
    """True for a folder holding article<ID>.txt files (the task's articles folder)."""
    path = Path(path)
    return path.is_dir() and any(ARTICLE_RE.match(p.name) for p in path.iterdir())


def _article_files(folder: Path) -> dict[str, Path]:
    files = {}
    for p in sorted(folder.iterdir()):
        m = ARTICLE_RE.match(p.name)
        if m and p.is_file():
            files[m.group("id")] = p
    return files


def _find_labels(articles_dir: Path) -> Path | None:
    """The labels file for an articles folder: inside it, else a sibling with the same prefix
    (train-articles-subtask-3/ -> train-labels-subtask-3.txt); None when there is neither
    (an unlabelled split, such as the task's test articles)."""
    inside = sorted(articles_dir.glob(f"*{LABELS_SUFFIX}")) + sorted(articles_dir.glob("labels*.txt"))
    if inside:
        if len(inside) > 1:
            raise DataError([f"{articles_dir}: several labels files ({[p.name for p in inside]}); pass the one to use"])
        return inside[0]
    prefix = articles_dir.name.split("-articles", 1)[0] if "-articles" in articles_dir.name else None
    if prefix:
        sibling = articles_dir.parent / f"{prefix}-{LABELS_SUFFIX}"
        if sibling.is_file():
            return sibling
    return None


def _read_article(path: Path) -> dict[int, str]:
    """{1-based line number: paragraph text} for the non-empty lines of one article file.
    Lines are split on '\\n' only (str.splitlines would also split on form feeds and U+2028,
    shifting the task's line numbers)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError([f"{path}: not UTF-8 ({e.reason} at byte {e.start})"]) from None
    paragraphs = {}
    for n, line in enumerate(raw.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip():
            paragraphs[n] = line.strip()
    return paragraphs


def _read_labels(path: Path) -> dict[tuple[str, int], list[str]]:
    labels: dict[tuple[str, int], list[str]] = {}
    problems = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) not in (2, 3) or not cols[1].strip().isdigit():
                problems.append(f"{path.name}:{n}: expected '<article id>\\t<line number>\\t<techniques>', got {line[:80]!r}")
                continue
            article = cols[0].strip()
            if article.startswith("article"):
                article = article[len("article"):]
            key = (article, int(cols[1]))
            if key in labels:
                problems.append(f"{path.name}:{n}: article {article} line {key[1]} is labelled twice")
            techniques = cols[2].strip() if len(cols) == 3 else ""
            labels[key] = [t.strip() for t in techniques.split(",") if t.strip()]
    if problems:
        raise DataError(problems)
    return labels


def read_semeval(path: str | Path) -> list[dict]:
    """Records (one per paragraph) of a SemEval-2023 Task 3 subtask-3 folder; see the module doc."""
    path = Path(path)
    if path.is_file():
        labels_path, articles_dir = path, None
        prefix = path.name.split("-labels", 1)[0] if "-labels" in path.name else None
        for candidate in ([path.parent / f"{prefix}-articles-subtask-3"] if prefix else []) + [path.parent]:
            if candidate.is_dir() and _article_files(candidate):
                articles_dir = candidate
                break
        if articles_dir is None:
            raise DataError([f"{path}: no folder of article<ID>.txt files found next to this labels file"])
    elif path.is_dir():
        articles_dir = path
        labels_path = _find_labels(path)
    else:
        raise DataError([f"{path}: no such file or folder"])

    articles = _article_files(articles_dir)
    if not articles:
        raise DataError([f"{articles_dir}: no article<ID>.txt files (SemEval-2023 Task 3 layout)"])
    has_labels = labels_path is not None
    labels = _read_labels(labels_path) if has_labels else {}

    rows: list[dict] = []
    seen: set[tuple[str, int]] = set()
    for article_id, file in articles.items():
        for line_no, text in _read_article(file).items():
            key = (article_id, line_no)
            techniques = labels.get(key) if has_labels else None
            seen.add(key)
            rows.append({
                "id": f"{article_id}-{line_no}",
                "article_id": article_id,
                "text": text,
                "techniques": techniques,
                "loaded": None if techniques is None else int(bool(techniques)),
                "stance": None,
                "voice": None,
                "cues": None,
                "_origin": f"{file.name}:{line_no}",
            })
    dangling = sorted(k for k in labels if k not in seen and k[0] in articles)
    if dangling:
        raise DataError([
            f"{labels_path.name}: article {a} line {n} is labelled but that line is empty or absent in article{a}.txt"
            for a, n in dangling[:20]
        ])
    return rows


def split_id(row_id: str) -> tuple[str, int]:
    """('<article>', line) from a row id '<article>-<line>'."""
    article, _, line = str(row_id).rpartition("-")
    if not article or not line.isdigit():
        raise ValueError(f"row id {row_id!r} is not '<article id>-<line number>'")
    return article, int(line)


def write_subtask3(path: str | Path, predictions: Iterable[dict]) -> Path:
    """Write a subtask-3 submission: one line '<article id>\\t<line number>\\t<t1>,<t2>,...' per
    paragraph (empty third field when no technique), ordered by article then line.

    Each prediction is a dict with `id` '<article>-<line>' (or `article_id` and `line`) and
    `techniques`: a list of names, or a {name: score} mapping whose keys are the predicted ones.
    The file is written atomically."""
    lines = []
    for p in predictions:
        if "line" in p and p.get("article_id") is not None:
            article, line = str(p["article_id"]), int(p["line"])
        else:
            article, line = split_id(p["id"])
        techniques = p.get("techniques") or []
        names = sorted(techniques) if isinstance(techniques, dict) else list(techniques)
        bad = [t for t in names if "," in t or "\t" in t]
        if bad:
            raise ValueError(f"technique name(s) {bad} cannot be written in the subtask-3 format")
        lines.append((article, line, ",".join(names)))
    lines.sort(key=lambda x: (int(x[0]) if x[0].isdigit() else float("inf"), x[0], x[1]))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as f:
        for article, line, names in lines:
            f.write(f"{article}\t{line}\t{names}\n")
    return path


def read_subtask3(path: str | Path) -> dict[str, list[str]]:
    """{'<article>-<line>': techniques} of a labels or submission file."""
    return {f"{a}-{n}": t for (a, n), t in _read_labels(Path(path)).items()}
