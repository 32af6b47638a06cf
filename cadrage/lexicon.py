"""The framing lexicon (data/lexicon.csv): cue expressions with technique tags and stance lean."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from cadrage.paths import ROOT

DEFAULT_LEXICON_PATH = ROOT / "data" / "lexicon.csv"
_APOSTROPHES = "'’ʼ"


@dataclass(frozen=True)
class Entry:
    expression: str
    techniques: tuple[str, ...]
    stance_lean: str


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    entry: Entry


def _key(expression: str) -> str:
    """Lookup key of an expression or of a matched text: lower case, one apostrophe, one space."""
    return re.sub(r"\s+", " ", re.sub(f"[{_APOSTROPHES}]", "'", expression.strip().lower()))


def _pattern(expression: str) -> str:
    """Regex for one expression: typographic/straight apostrophes and any whitespace run match."""
    parts = []
    for ch in expression.strip():
        if ch in _APOSTROPHES:
            parts.append(f"[{_APOSTROPHES}]")
        elif ch.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


class Lexicon:
    """Finds lexicon expressions in text: case-insensitive, on word boundaries, longest first."""

    def __init__(self, entries: list[Entry]):
        if not entries:
            raise ValueError("the lexicon is empty")
        self.entries = entries
        self._by_key = {_key(e.expression): e for e in entries}
        # One alternation behind a single pair of word-boundary guards (longest first): per-entry
        # guards or named groups make Python's regex engine orders of magnitude slower.
        ordered = sorted(self._by_key, key=len, reverse=True)
        self._regex = re.compile(
            r"(?<!\w)(?:" + "|".join(_pattern(k) for k in ordered) + r")(?!\w)", re.IGNORECASE
        )

    @classmethod
    def from_csv(cls, path: str | Path = DEFAULT_LEXICON_PATH, known_techniques: set[str] | None = None) -> "Lexicon":
        entries = []
        with open(path, encoding="utf-8", newline="") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                expression = (row.get("expression") or "").strip()
                techniques = tuple(t.strip() for t in (row.get("techniques") or "").split("|") if t.strip())
                if not expression or not techniques:
                    raise ValueError(f"{path}:{n}: a lexicon row needs an expression and techniques")
                if known_techniques and set(techniques) - known_techniques:
                    raise ValueError(f"{path}:{n}: unknown technique(s) {sorted(set(techniques) - known_techniques)}")
                entries.append(Entry(expression, techniques, (row.get("stance_lean") or "neutral").strip()))
        return cls(entries)

    def matches(self, text: str) -> list[Match]:
        found = []
        for m in self._regex.finditer(text):
            found.append(Match(m.start(), m.end(), self._by_key[_key(m.group())]))
        return found
