"""`cadrage ingest PATH... [--out FILE]`: articles -> cleaned, segmented JSONL records.

One record per article (issue 2, item 4)::

    {"id", "path", "url", "source", "title", "date", "text",
     "sentences": [{"text", "start", "end", "voice", "reported_spans"}], "warnings", "error"}

`text` is the cleaned article (its headline, when known, as the first line); sentence `start`/`end`
are character offsets into it (``text[start:end] == sentence["text"]``); `reported_spans` are
[start, end] pairs relative to the sentence. A record whose input could not be read has `error`
set and no sentences; the other inputs are still processed. Exit code: 0 all records ok,
2 some failed, 1 none could be produced.

Library use: `iter_articles(paths)` yields `Article` objects lazily; `to_record(article)` gives
the JSON shape.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator, Mapping
from urllib.parse import urlparse

from cadrage.ingest import voice as _voice
from cadrage.ingest.clean import clean_text, normalize
from cadrage.ingest.lang import non_french_warning
from cadrage.ingest.readers import (
    DEFAULT_MAX_BYTES,
    HTML,
    TXT,
    RawDocument,
    from_mapping,
    read_inputs,
)
from cadrage.ingest.segment import segment, segment_many
from cadrage.io import atomic_output, run_interruptible

UNITS = ("article", "sentence")
BATCH_ARTICLES = 32  # articles cleaned and segmented together (bounded memory, one spaCy batch)
BATCH_CHARS = 2_000_000


@dataclass
class Sentence:
    text: str
    start: int
    end: int
    voice: str = _voice.AUTHOR
    reported_spans: list[tuple[int, int]] = field(default_factory=list)
    attribution_spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Article:
    id: str
    path: str
    url: str | None = None
    source: str | None = None
    title: str | None = None
    date: str | None = None
    text: str = ""
    sentences: list[Sentence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def source_of(url: str | None, explicit: str | None = None) -> str | None:
    """The explicit `source` if given, else the URL's host name without `www.`."""
    if explicit and explicit.strip():
        return explicit.strip()
    if not url:
        return None
    try:
        host = urlparse(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _sentences_of(text: str, spans: Iterable[tuple[int, int]]) -> list[Sentence]:
    quotes = _voice.quote_spans(text)  # sorted, disjoint
    out = []
    first = 0
    for a, b in spans:  # in text order: one sweep over the quotes, not one pass per sentence
        while first < len(quotes) and quotes[first][1] <= a:
            first += 1
        last = first
        while last < len(quotes) and quotes[last][0] < b:
            last += 1
        st = text[a:b]
        analysis = _voice.analyze(st, quotes=_voice.clip(quotes[first:last], a, b))
        out.append(Sentence(st, a, b, _voice.voice_of(st, analysis), analysis.reported, analysis.attribution))
    return out


def _base(raw: RawDocument) -> Article:
    return Article(id=raw.id, path=raw.path, url=raw.url, source=source_of(raw.url, raw.source),
                   title=raw.title, date=raw.date, warnings=list(raw.warnings), error=raw.error)


def _language_warning(art: Article, detect_language: bool) -> None:
    if not detect_language:
        return

    name = art.path if art.id == art.path else f"{art.path} [{art.id}]"
    w = non_french_warning(art.text, name)
    if w:
        art.warnings.append(w)


def _prepare(raw: RawDocument, detect_language: bool) -> Article:
    """Clean one raw article (no segmentation yet)."""
    art = _base(raw)
    if art.error:
        return art
    try:
        body = raw.text
        if raw.title:
            title = normalize(raw.title).strip()
            if title and not normalize(body).lstrip().startswith(title):
                body = title + "\n\n" + body
        cleaned = clean_text(body)
        art.text = cleaned.text
        art.warnings.extend(cleaned.warnings)
        if not art.text.strip():
            art.error = f"{_where(raw)}: no article text left after removing scraped junk"
            return art
        _language_warning(art, detect_language)
    except Exception as e:  # one bad article must not stop the others
        art.error = f"{_where(raw)}: internal error while cleaning ({type(e).__name__}: {e})"
    return art


def _finish(art: Article, raw: RawDocument, spans: list[tuple[int, int]]) -> Article:
    try:
        art.sentences = _sentences_of(art.text, spans)
        if not art.sentences:
            art.error = f"{_where(raw)}: no sentence found"
    except Exception as e:
        art.error = f"{_where(raw)}: internal error while processing ({type(e).__name__}: {e})"
        art.sentences = []
    return art


def build_articles(raws: list[RawDocument], *, detect_language: bool = True) -> list[Article]:
    """Clean, segment and attribute a batch of raw articles (segmentation batched across them)."""

    arts = [_prepare(raw, detect_language) for raw in raws]
    todo = [k for k, a in enumerate(arts) if not a.error]
    try:
        spans = segment_many([arts[k].text for k in todo])
    except Exception:  # isolate the article that breaks the batch
        spans = []
        for k in todo:
            try:
                spans.append(segment(arts[k].text))
            except Exception as e:
                arts[k].error = f"{_where(raws[k])}: internal error while segmenting ({type(e).__name__}: {e})"
                spans.append([])
    for k, sp in zip(todo, spans):
        if not arts[k].error:
            _finish(arts[k], raws[k], sp)
    return arts


def build_article(raw: RawDocument, *, detect_language: bool = True) -> Article:
    """Clean, segment and attribute one raw article."""
    return build_articles([raw], detect_language=detect_language)[0]


def build_sentence_records(raw: RawDocument, *, detect_language: bool = True) -> Iterator[Article]:
    """unit="sentence": each JSONL/CSV record (or each line of a text file) is one sentence."""
    if raw.error:
        yield _base(raw)
        return
    if raw.fmt in (TXT, HTML):
        units = [(f"{raw.id}:{k}", line) for k, line in enumerate(normalize(raw.text).split("\n"), 1) if line.strip()]
        if raw.title and (not units or units[0][1] != normalize(raw.title).strip()):
            units.insert(0, (f"{raw.id}:title", normalize(raw.title).strip()))
    else:
        units = [(raw.id, re.sub(r"\s+", " ", normalize(raw.text)).strip())]
    for uid, text in units:
        art = _base(raw)
        art.id = uid
        try:
            art.text = text
            if not text:
                art.error = f"{_where(raw)}: empty text"
            else:
                _language_warning(art, detect_language and len(text) > 200)
                art.sentences = _sentences_of(text, [(0, len(text))])
        except Exception as e:
            art.error = f"{_where(raw)}: internal error while processing ({type(e).__name__}: {e})"
        yield art


def _where(raw: RawDocument) -> str:
    return f"{raw.path}:{raw.line}" if raw.line is not None else raw.path


def iter_articles(paths: Iterable[str], *, unit: str = "article", max_bytes: int = DEFAULT_MAX_BYTES,
                  detect_language: bool = True, stdin: BinaryIO | None = None) -> Iterator[Article]:
    """Articles (or sentences, with unit="sentence") of all inputs, lazily, in input order."""
    return articles_from_raw(read_inputs(paths, max_bytes=max_bytes, stdin=stdin), unit=unit,
                             detect_language=detect_language)


def articles_from_raw(raws: Iterable[RawDocument], *, unit: str = "article",
                      detect_language: bool = True) -> Iterator[Article]:
    """Articles (or sentences) of raw documents, lazily, in order, cleaned and segmented in batches."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
    batch: list[RawDocument] = []
    size = 0
    for raw in raws:
        if unit == "sentence":
            yield from build_sentence_records(raw, detect_language=detect_language)
            continue
        batch.append(raw)
        size += len(raw.text)
        if len(batch) >= BATCH_ARTICLES or size >= BATCH_CHARS:
            yield from build_articles(batch, detect_language=detect_language)
            batch, size = [], 0
    if batch:
        yield from build_articles(batch, detect_language=detect_language)


def article_from_record(record: Mapping, *, origin: str = "record", unit: str = "article",
                        detect_language: bool = True) -> Article:
    """One in-memory record (`text` plus optional id, url, source, title, date) -> Article,
    cleaned, segmented and attributed exactly as a file would be (used by serving). `origin`
    names the record in errors and is its id when it has none. unit="sentence": one sentence."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
    raw = from_mapping(dict(record), rid=origin, path=origin)
    if unit == "sentence":
        return next(iter(build_sentence_records(raw, detect_language=detect_language)))
    return build_article(raw, detect_language=detect_language)


def to_record(article: Article) -> dict:
    """The JSONL shape of an article (issue 2, item 4)."""
    return {
        "id": article.id,
        "path": article.path,
        "url": article.url,
        "source": article.source,
        "title": article.title,
        "date": article.date,
        "text": article.text,
        "sentences": [
            {"text": s.text, "start": s.start, "end": s.end, "voice": s.voice,
             "reported_spans": [[a, b] for a, b in s.reported_spans]}
            for s in article.sentences
        ],
        "warnings": list(article.warnings),
        "error": article.error,
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def parse_size(value: str) -> int:
    """`10000000`, `10MB`, `50M`, `1G`, `512k` -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*", value, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {value!r} (e.g. 10MB)")
    mult = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}[m[2].lower()]
    n = int(float(m[1]) * mult)
    if n <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="files (.txt .html .jsonl .csv), directories (recursive), globs, or - for JSONL on stdin")
    parser.add_argument("-o", "--out", default="-", metavar="FILE",
                        help="write JSONL here (atomically) instead of standard output")
    parser.add_argument("--unit", choices=UNITS, default="article",
                        help="article (default): clean and segment; sentence: each record is one sentence")
    parser.add_argument("--max-bytes", type=parse_size, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                        help=f"largest document read (file, JSONL line, CSV field); default {DEFAULT_MAX_BYTES // 1_000_000}MB")
    parser.add_argument("--no-language-check", dest="detect_language", action="store_false",
                        help="skip the non-French warning")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    return run_interruptible("cadrage ingest", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    n = ok = failed = warned = n_sent = 0
    try:
        with atomic_output(args.out) as fh:
            for art in iter_articles(args.paths, unit=args.unit, max_bytes=args.max_bytes,
                                     detect_language=getattr(args, "detect_language", True)):
                fh.write(json.dumps(to_record(art), ensure_ascii=False) + "\n")
                n += 1
                if art.error:
                    failed += 1
                else:
                    ok += 1
                    n_sent += len(art.sentences)
                if art.warnings:
                    warned += 1
    except BrokenPipeError:  # `cadrage ingest … | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:
        print(f"cadrage ingest: cannot write {args.out}: {e}", file=sys.stderr)
        return 1
    dt = time.perf_counter() - t0
    what = "sentence records" if args.unit == "sentence" else "articles"
    print(f"cadrage ingest: {n} {what}: {ok} ok, {failed} failed, {warned} with warnings; "
          f"{n_sent} sentences in {dt:.1f}s", file=sys.stderr)
    if ok == 0:
        return 1
    return 2 if failed else 0
