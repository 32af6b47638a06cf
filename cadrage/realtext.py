"""The real-text evaluation set: labels the project holds for real French text it does not hold.

The texts stay in `../shared/real/` (French Wikinews, CC BY 2.5; UD French-Sequoia, LGPL-LR). The
project keeps, in `data/real/labels.jsonl`, one row per annotated sentence keyed by document id,
field (`title` or `text`), character offsets and a hash of the sentence, with the labels of
`data/GUIDELINES.md` (cues as offsets inside the sentence, never as copied words), and in
`data/real/split.json` the documents of `real-dev` and `real-test`, fixed once so that figures
stay comparable across retrains. `real_rows` joins the two into ordinary corpus records.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from cadrage.paths import ROOT

LABELS = ROOT / "data" / "real" / "labels.jsonl"
SPLIT = ROOT / "data" / "real" / "split.json"
SPLITS = ("real-dev", "real-test")
SOURCES = {"wikinews": "wikinews_fr.jsonl", "sequoia": "sequoia_fr.jsonl"}
HASH_CHARS = 16


class RealTextMissing(RuntimeError):
    """`../shared/real` is not there: real-text checks are skipped, not failed."""


class RealTextError(ValueError):
    """The labels do not match the shared text (edited text, wrong offsets, unknown document)."""


def real_dir() -> Path:
    """Where the shared real text is: $CADRAGE_REAL_DIR, else ../shared/real beside the checkout."""
    return Path(os.environ.get("CADRAGE_REAL_DIR") or ROOT.parent / "shared" / "real")


def sentence_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def source_kind(doc_id: str) -> str:
    """wikinews, or the Sequoia part: Europar (parliament debates), annodis (regional daily), frwiki."""
    if doc_id.startswith("winer-"):
        return "wikinews"
    part = doc_id.split("-")[1] if doc_id.count("-") >= 1 else doc_id
    return part.split(".")[0].split("_")[0]


def read_documents(folder: Path | None = None) -> dict[str, dict]:
    """Every shared real document by id; RealTextMissing when the folder or a file is absent."""
    folder = Path(folder) if folder else real_dir()
    docs: dict[str, dict] = {}
    for name in SOURCES.values():
        path = folder / name
        if not path.is_file():
            raise RealTextMissing(f"{path} not found: real-text evaluation skipped (see data/real/README.md)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    doc = json.loads(line)
                    docs[doc["id"]] = doc
    return docs


def read_split(path: Path = SPLIT) -> dict[str, list[str]]:
    with open(path, encoding="utf-8") as f:
        split = json.load(f)
    return {name: list(split[name]) for name in SPLITS}


def read_labels(path: Path = LABELS) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def real_rows(split: str | None = None, folder: Path | None = None, labels: list[dict] | None = None,
              documents: dict[str, dict] | None = None) -> list[dict]:
    """Corpus records (text and labels, `article_id` = document, `topic` = source kind) for the
    labelled sentences of `split` (`real-dev`, `real-test`, or None for all), in label-file order.
    RealTextMissing without the shared text; RealTextError listing every row that does not match it."""
    documents = read_documents(folder) if documents is None else documents
    labels = read_labels() if labels is None else labels
    keep = None
    if split is not None:
        if split not in SPLITS:
            raise ValueError(f"unknown real-text split {split!r} (expected one of {SPLITS})")
        keep = set(read_split()[split])
    rows, problems = [], []
    for n, label in enumerate(labels, 1):
        doc_id = label["doc"]
        if keep is not None and doc_id not in keep:
            continue
        doc = documents.get(doc_id)
        where = f"{LABELS.name}:{n} ({doc_id} {label['field']} {label['start']}..{label['end']})"
        if doc is None:
            problems.append(f"{where}: no such document in {real_dir()}")
            continue
        text = (doc.get(label["field"]) or "")[label["start"]:label["end"]]
        if sentence_hash(text) != label["sha256"]:
            problems.append(f"{where}: the shared text there does not match the labelled sentence (hash differs)")
            continue
        rows.append({
            "id": f"{doc_id}:{label['field']}:{label['start']}", "article_id": doc_id, "text": text,
            "topic": source_kind(doc_id), "source": label["corpus"], "hard_negative": label.get("hard_negative"),
            "loaded": label["loaded"], "techniques": label["techniques"], "stance": label["stance"],
            "voice": label["voice"], "cues": label.get("cues", []),
        })
    if problems:
        raise RealTextError(f"{len(problems)} real-text label(s) do not match the shared text:\n" + "\n".join(problems[:20]))
    return rows
