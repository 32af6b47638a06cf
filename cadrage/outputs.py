"""Writers for `cadrage score`: JSONL, CSV and a self-contained HTML report.

All writers share one life cycle::

    with open_writer("report.html", meta={"model": "..."}) as w:   # or JsonlWriter().open(path)
        for article, sentences in scored:
            w.write_article(article, sentences, summary)           # summary optional
        w.close(source_table)                                      # optional, see below

* Streaming: each article is written (or, for HTML, spooled to an unlinked temporary file)
  as it arrives; nothing per article is kept in memory.
* Atomic: every output goes to a temporary file in the destination directory and is moved
  into place with ``os.replace`` only by a successful :meth:`Writer.close`. An exception
  inside the ``with`` block, or :meth:`Writer.abort`, removes the temporary files and leaves
  any previous output untouched. Sidecars are committed before the main file, so the main
  file's presence means the run completed.
* ``close(None)`` (or leaving the ``with`` block without calling ``close``) builds the
  source table from the summaries the writer has seen, with default settings; pass the
  caller's own table to honour ``--ratings`` and custom minimum-evidence rules.
* Failed articles (``article["error"]`` set) become one error record in every format.

JSONL and CSV outputs get two sidecars next to them (see :func:`sidecar_paths`): the article
summaries (``<stem>.articles.jsonl``) and the source table (``<stem>.sources.csv``). ``-`` as
path writes the main output to stdout (no sidecars, no atomicity).
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterable, Mapping

from cadrage.io import atomic_output
from cadrage.reliability import ReliabilityModel, SourceAccumulator
from cadrage.summary import DEFAULT_LOADED_THRESHOLD, article_summary

FORMATS = ("jsonl", "csv", "html")

SENTENCE_FIELDS = (
    "article_id", "sentence_index", "start", "end", "text", "loaded", "techniques", "stance",
    "voice", "author_loaded", "cues", "error",
)

SENTENCE_CSV_COLUMNS = (
    "article_id", "source", "sentence_index", "start", "end", "text", "loaded", "author_loaded",
    "voice", "techniques", "stance", "stance_prob", "cue_words", "techniques_json", "stance_json",
    "cues_json", "error", "path",
)

SOURCE_CSV_COLUMNS = (
    "rank", "source", "status", "reliability", "reliability_low", "reliability_high", "articles",
    "articles_scored", "articles_failed", "sentences", "author_loaded", "observed_rate",
    "mean_article_share", "effective_sentences", "top_techniques", "external_rating",
    "rating_domain", "note", "evidence",
)

# The SemEval-2023 Task 3 taxonomy order, used only to give each technique a stable colour.
_TAXONOMY = (
    "Loaded_Language", "Name_Calling-Labeling", "Doubt", "Questioning_the_Reputation",
    "Exaggeration-Minimisation", "Appeal_to_Fear-Prejudice", "Flag_Waving",
    "Causal_Oversimplification", "Appeal_to_Hypocrisy", "Whataboutism", "Appeal_to_Authority",
    "Appeal_to_Popularity", "Appeal_to_Values", "False_Dilemma-No_Choice",
    "Consequential_Oversimplification", "Straw_Man", "Red_Herring", "Slogans", "Appeal_to_Time",
    "Conversation_Killer", "Repetition", "Obfuscation-Vagueness-Confusion", "Guilt_by_Association",
)


class OutputError(OSError):
    """An output that cannot be written (missing directory, unknown format...)."""


# --------------------------------------------------------------------------- atomic files


class _AtomicFile:
    """One output under construction, on top of :func:`cadrage.io.atomic_output`.

    The writers keep several outputs open across method calls and commit them together, so the
    context manager is entered here and finished by :meth:`commit` (normal exit: fsync and
    os.replace) or :meth:`discard` (exit with an exception: the temporary file is removed).
    """

    def __init__(self, path: str | os.PathLike, *, encoding: str = "utf-8", newline: str | None = None):
        self.path = os.path.abspath(os.fspath(path))
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise OutputError(f"cannot write {path}: directory {directory} does not exist")
        if os.path.isdir(self.path):
            raise OutputError(f"cannot write {path}: it is a directory")
        # atomic_output writes newline="\n" (no translation): CSV's own \r\n pass through intact.
        self._cm = atomic_output(self.path, encoding=encoding)
        self.file: IO[str] = self._cm.__enter__()
        self.done = False

    def commit(self) -> None:
        if not self.done:
            self.done = True
            self._cm.__exit__(None, None, None)

    def discard(self) -> None:
        if not self.done:
            self.done = True
            exc = RuntimeError("output discarded")
            with contextlib.suppress(BaseException):
                self._cm.__exit__(type(exc), exc, None)


class _Stdout:
    """Duck-types _AtomicFile for ``-``: writes go straight to stdout."""

    def __init__(self) -> None:
        self.file = sys.stdout
        self.path = "-"

    def commit(self) -> None:
        self.file.flush()

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.file.flush()


def sidecar_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(article summaries JSONL, source table CSV) written next to a JSONL/CSV output."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix else p
    return stem.with_name(stem.name + ".articles.jsonl"), stem.with_name(stem.name + ".sources.csv")


# --------------------------------------------------------------------------- formatting helpers

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list


def _cell(value: Any) -> Any:
    """Neutralises spreadsheet formula injection (OWASP: a cell starting with = + - @ tab or CR
    gets a leading ')."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class SafeDictWriter(csv.DictWriter):
    """csv.DictWriter that neutralises every text cell (_cell): every CSV the project writes
    goes through it, whatever the column."""

    def writerow(self, rowdict):
        return super().writerow({k: _cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts):
        for row in rowdicts:
            self.writerow(row)


def _num(value: Any, digits: int = 4) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else ""
    return value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _techniques_text(techniques: Mapping[str, float] | None) -> str:
    items = sorted((techniques or {}).items(), key=lambda kv: -kv[1])
    return "; ".join(f"{t} ({p:.2f})" for t, p in items)


def _argmax(probs: Mapping[str, float] | None) -> tuple[str, Any]:
    if not probs:
        return "", ""
    label = max(probs, key=lambda k: probs[k])
    return label, _num(float(probs[label]))


def _cue_words(cues: Iterable[Mapping[str, Any]] | None) -> str:
    return "; ".join(f"{c.get('text', '')} [{c.get('technique', '')}]" for c in cues or [])


def _source_csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    evidence = "\n".join(
        f"[{e.get('score', 0):.2f}] {e.get('article_id')}#{e.get('sentence_index')}: {e.get('text', '')}"
        for e in row.get("evidence") or []
    )
    out = {k: row.get(k) for k in SOURCE_CSV_COLUMNS}
    out["top_techniques"] = "; ".join(f"{t} ({c})" for t, c in row.get("top_techniques") or [])
    out["evidence"] = evidence
    for k in ("source", "note", "evidence", "rating_domain", "external_rating"):
        out[k] = _cell(out[k])
    return {k: ("" if v is None else _num(v)) for k, v in out.items()}


def write_sources_csv(f: IO[str], table: Iterable[Mapping[str, Any]]) -> None:
    """Writes the source table as CSV (one row per source, evidence lines in one cell)."""
    w = SafeDictWriter(f, fieldnames=SOURCE_CSV_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for row in table:
        w.writerow(_source_csv_row(row))


def _sentence_record(s: Mapping[str, Any]) -> dict[str, Any]:
    rec = {k: s.get(k) for k in SENTENCE_FIELDS}
    for k, v in s.items():  # pass through whatever else the scoring core adds
        if k not in rec:
            rec[k] = v
    return rec


def _error_record(article: Mapping[str, Any]) -> dict[str, Any]:
    rec = {k: None for k in SENTENCE_FIELDS}
    rec["article_id"] = article.get("article_id")
    rec["error"] = str(article.get("error"))
    rec["path"] = article.get("path")
    return rec


# --------------------------------------------------------------------------- writers


class Writer:
    """Common life cycle: open(path) → write_article(...)* → close(source_table)."""

    format = ""

    def __init__(self, *, meta: Mapping[str, Any] | None = None, loaded_threshold: float = DEFAULT_LOADED_THRESHOLD):
        self.meta = dict(meta or {})
        self.loaded_threshold = loaded_threshold
        self.path: str | None = None
        self.n_articles = 0
        self.n_failed = 0
        self.n_sentences = 0
        self.n_author_loaded = 0
        self._files: list[Any] = []
        self._sources = SourceAccumulator()
        self._state = "new"

    # -- life cycle
    def open(self, path: str | os.PathLike) -> "Writer":
        if self._state != "new":
            raise RuntimeError(f"{type(self).__name__} already opened")
        self.path = os.fspath(path)
        try:
            self._open()
        except BaseException:
            self.abort()
            raise
        self._state = "open"
        return self

    def write_article(
        self,
        article: Mapping[str, Any],
        sentences: Iterable[Mapping[str, Any]],
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        """Writes one article's sentences (or its error record) and its summary."""
        if self._state != "open":
            raise RuntimeError(f"{type(self).__name__}.write_article() on a writer that is {self._state}")
        sentences = list(sentences)
        if summary is None:
            summary = article_summary(article, sentences, loaded_threshold=self.loaded_threshold)
        failed = bool(article.get("error"))
        self.n_articles += 1
        self.n_failed += failed
        if not failed:
            self.n_sentences += len(sentences)
            self.n_author_loaded += sum(1 for s in sentences if s.get("author_loaded"))
        self._sources.add(summary)
        self._write(article, [] if failed else sentences, summary)

    def source_table(self, min_articles: int = 3, ratings: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
        """The source table of the articles written so far (see SourceAccumulator.table)."""
        return self._sources.table(min_articles=min_articles, ratings=ratings, **kwargs)

    def close(
        self,
        source_table: list[Mapping[str, Any]] | None = None,
        *,
        reliability_model: ReliabilityModel | Mapping[str, Any] | None = None,
    ) -> None:
        """Finishes every file and moves them into place. ``None``: the writer's own table."""
        if self._state == "closed":
            return
        if self._state != "open":
            raise RuntimeError(f"{type(self).__name__}.close() on a writer that is {self._state}")
        try:
            if source_table is None:
                source_table = self._sources.table()
            if reliability_model is None:
                reliability_model = self._sources.fit()
            if isinstance(reliability_model, ReliabilityModel):
                reliability_model = reliability_model.as_dict()
            self._finish(list(source_table), reliability_model)
            for f in self._files[1:] + self._files[:1]:  # sidecars first, main file last
                f.commit()
        except BaseException:
            self.abort()
            raise
        self._state = "closed"

    def abort(self) -> None:
        """Drops everything written so far; previous outputs stay as they were."""
        for f in self._files:
            f.discard()
        self._cleanup()
        self._state = "aborted"

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            if self._state in ("open", "new"):
                self.abort()
            return
        if self._state == "open":
            self.close()

    # -- for subclasses
    def _open(self) -> None:
        raise NotImplementedError

    def _write(self, article: Mapping[str, Any], sentences: list, summary: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _finish(self, source_table: list, reliability_model: Mapping[str, Any] | None) -> None:
        raise NotImplementedError

    def _cleanup(self) -> None:
        pass

    def _target(self, path: str | os.PathLike, **kw: Any) -> Any:
        f = _Stdout() if os.fspath(path) == "-" else _AtomicFile(path, **kw)
        self._files.append(f)
        return f


class _SidecarWriter(Writer):
    """JSONL and CSV: main file + article summaries JSONL + source table CSV."""

    main_encoding = "utf-8"

    def _open(self) -> None:
        self._main = self._target(self.path, encoding=self.main_encoding, newline="" if self.format == "csv" else None)
        self._articles = self._sources_file = None
        if self.path != "-":
            articles_path, sources_path = sidecar_paths(self.path)
            self._articles = self._target(articles_path)
            # utf-8-sig: spreadsheets (Excel) then read French accents correctly.
            self._sources_file = self._target(sources_path, encoding="utf-8-sig", newline="")
        self._start()

    def _start(self) -> None:
        pass

    def _write(self, article, sentences, summary) -> None:
        if self._articles is not None:
            self._articles.file.write(_json(summary) + "\n")
        self._write_main(article, sentences, summary)

    def _finish(self, source_table, reliability_model) -> None:
        if self._sources_file is not None:
            write_sources_csv(self._sources_file.file, source_table)

    def _write_main(self, article, sentences, summary) -> None:
        raise NotImplementedError


class JsonlWriter(_SidecarWriter):
    """One JSON object per sentence; a failed article is one object with its error."""

    format = "jsonl"

    def _write_main(self, article, sentences, summary) -> None:
        out = self._main.file
        # the article's warnings (encoding guessed, not French…) travel with each of its records
        warnings = list(article.get("warnings") or [])
        if article.get("error"):
            out.write(_json({**_error_record(article), "warnings": warnings}) + "\n")
            return
        for s in sentences:
            out.write(_json({**_sentence_record(s), "warnings": warnings}) + "\n")


class CsvWriter(_SidecarWriter):
    """One row per sentence; readable columns for a spreadsheet plus *_json columns for tools.

    ``techniques`` reads "Loaded_Language (0.91); Doubt (0.62)", ``stance`` is the most likely
    label with ``stance_prob`` beside it, ``cue_words`` lists the highlighted words; the exact
    structures are in ``techniques_json``, ``stance_json``, ``cues_json``. UTF-8 with a BOM so
    that spreadsheet programs read the accents; free-text cells that would start a formula are
    prefixed with an apostrophe.
    """

    format = "csv"
    main_encoding = "utf-8-sig"

    def _start(self) -> None:
        self._csv = SafeDictWriter(self._main.file, fieldnames=SENTENCE_CSV_COLUMNS, extrasaction="ignore")
        self._csv.writeheader()

    def _write_main(self, article, sentences, summary) -> None:
        source = _cell(summary.get("source"))
        if article.get("error"):
            row = dict.fromkeys(SENTENCE_CSV_COLUMNS, "")
            row.update(
                article_id=_cell(article.get("article_id")),
                source=source,
                error=_cell(str(article.get("error"))),
                path=_cell(article.get("path") or ""),
            )
            self._csv.writerow(row)
            return
        for s in sentences:
            stance, stance_prob = _argmax(s.get("stance"))
            self._csv.writerow(
                {
                    "article_id": _cell(s.get("article_id")),
                    "source": source,
                    "sentence_index": s.get("sentence_index"),
                    "start": s.get("start"),
                    "end": s.get("end"),
                    "text": _cell(s.get("text", "")),
                    "loaded": _num(s.get("loaded")),
                    "author_loaded": int(bool(s.get("author_loaded"))),
                    "voice": s.get("voice") or "",
                    "techniques": _techniques_text(s.get("techniques")),
                    "stance": stance,
                    "stance_prob": stance_prob,
                    "cue_words": _cell(_cue_words(s.get("cues"))),
                    "techniques_json": _json(s.get("techniques") or {}),
                    "stance_json": _json(s.get("stance") or {}),
                    "cues_json": _json(s.get("cues") or []),
                    "error": _cell(s.get("error") or ""),
                    "path": "",
                }
            )


# --------------------------------------------------------------------------- HTML


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def technique_hue(name: str) -> int:
    """A stable hue per technique: taxonomy order spread by the golden angle, else a hash."""
    i = _TAXONOMY.index(name) if name in _TAXONOMY else len(_TAXONOMY) + zlib.crc32(name.encode()) % 97
    return int((20 + i * 137.508) % 360)


def anchor(article_id: Any) -> str:
    """The HTML id of an article section (stable, whatever characters the id holds)."""
    return "a-" + hashlib.sha1(str(article_id).encode("utf-8")).hexdigest()[:12]


def safe_url(url: Any) -> str | None:
    """The URL if it is http(s), else None: never turn a ``javascript:`` URL into a link."""
    if isinstance(url, str) and re.match(r"^https?://[^\s]+$", url.strip(), re.IGNORECASE):
        return url.strip()
    return None


def highlight(text: str, cues: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Splits `text` into segments, each with the cues covering it (overlaps allowed).

    Offsets are relative to `text`; spans outside it are clipped, empty ones dropped.
    """
    spans = []
    for c in cues or []:
        try:
            start, end = max(0, int(c["start"])), min(len(text), int(c["end"]))
        except (KeyError, TypeError, ValueError):
            continue
        if start < end:
            spans.append((start, end, c))
    if not spans:
        return [{"text": text, "cues": []}]
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    segments = []
    for a, b in zip(cuts, cuts[1:]):
        covering = [c for s, e, c in spans if s <= a and b <= e]
        if segments and not covering and not segments[-1]["cues"]:
            segments[-1]["text"] += text[a:b]
        else:
            segments.append({"text": text[a:b], "cues": covering})
    return segments


_ORIGIN_FR = {"lexicon": "lexique", "model": "modèle"}
_VOICE_FR = {"author": "auteur", "reported": "rapportée"}


def _sentence_view(s: Mapping[str, Any], threshold: float, aid: str) -> dict[str, Any]:
    loaded = float(s.get("loaded") or 0.0)
    techniques = s.get("techniques") or {}
    stance = s.get("stance") or {}
    tip = [f"chargée : {loaded:.2f}", f"voix : {_VOICE_FR.get(s.get('voice'), s.get('voice') or '?')}"]
    if techniques:
        tip.append("techniques : " + ", ".join(f"{t} {p:.2f}" for t, p in sorted(techniques.items(), key=lambda kv: -kv[1])))
    if stance:
        tip.append("position : " + ", ".join(f"{k} {float(v):.2f}" for k, v in stance.items()))
    segments = highlight(s.get("text") or "", s.get("cues"))
    for seg in segments:
        seg["classes"] = " ".join(f"t-{_slug(c.get('technique') or '')} o-{_slug(c.get('origin') or 'lexicon')}"
                                  for c in seg["cues"][:1])
        seg["title"] = " · ".join(
            f"{c.get('technique')} ({_ORIGIN_FR.get(c.get('origin'), c.get('origin') or '?')})" for c in seg["cues"]
        )
    cue_techs = {c.get("technique") for c in s.get("cues") or [] if c.get("technique")}
    return {
        "id": f"{aid}-s{s.get('sentence_index')}",
        "index": s.get("sentence_index"),
        "loaded": loaded,
        "is_loaded": bool(s.get("author_loaded")) or loaded >= threshold,
        "author_loaded": bool(s.get("author_loaded")),
        "voice": s.get("voice") or "",
        "techniques": " ".join(sorted(set(techniques) | cue_techs)),
        "title": " | ".join(tip),
        "segments": segments,
    }


class HtmlWriter(Writer):
    """One self-contained HTML report, assembled at close from spooled article sections."""

    format = "html"
    _marker_articles = "<!--cadrage:articles-->"
    _marker_failures = "<!--cadrage:failures-->"

    def _open(self) -> None:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.PackageLoader("cadrage", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f} %".replace(".", ",")
        env.filters["dec"] = lambda v, d=2: "–" if v is None else f"{v:.{d}f}".replace(".", ",")
        env.filters["slug"] = _slug
        env.filters["anchor"] = anchor
        self._template = env.get_template("report.html.j2")
        self._macros = self._template.module
        self._main = self._target(self.path)
        # Unlinked spools in the destination directory (not /tmp, which may live in RAM).
        spool_dir = os.path.dirname(os.path.abspath(self.path)) if self.path != "-" else None
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=spool_dir)
        self._fail_spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=spool_dir)
        self._techniques: set[str] = set()
        self._n_written = 0

    def _write(self, article, sentences, summary) -> None:
        if article.get("error"):
            self._fail_spool.write(str(self._macros.failure_item(article, summary)))
            return
        aid = anchor(article.get("article_id"))
        views = [_sentence_view(s, self.loaded_threshold, aid) for s in sentences]
        for s in sentences:
            self._techniques.update(s.get("techniques") or {})
            self._techniques.update(c.get("technique") for c in s.get("cues") or [] if c.get("technique"))
        self._n_written += 1
        self._spool.write(
            str(self._macros.article_section(article, summary, views, aid, safe_url(article.get("url")), self._n_written))
        )

    def _finish(self, source_table, reliability_model) -> None:
        techniques = sorted(self._techniques, key=lambda t: (_TAXONOMY.index(t) if t in _TAXONOMY else 99, t))
        meta = dict(self.meta)
        meta.setdefault("generated", datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M"))
        ranked = sum(1 for r in source_table if r.get("status") == "ranked")
        page = self._template.render(
            page=True,
            meta=meta,
            counts={
                "articles": self.n_articles,
                "scored": self.n_articles - self.n_failed,
                "failed": self.n_failed,
                "sentences": self.n_sentences,
                "author_loaded": self.n_author_loaded,
                "sources": len(source_table),
                "ranked": ranked,
            },
            sources=source_table,
            has_ratings=any(r.get("external_rating") is not None for r in source_table),
            techniques=[{"name": t, "slug": _slug(t), "hue": technique_hue(t)} for t in techniques],
            model=reliability_model,
            articles_marker=self._marker_articles,
            failures_marker=self._marker_failures,
        )
        head, rest = page.split(self._marker_articles, 1)
        middle, tail = rest.split(self._marker_failures, 1)
        out = self._main.file
        out.write(head.lstrip())
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, out)
        out.write(middle)
        self._fail_spool.seek(0)
        shutil.copyfileobj(self._fail_spool, out)
        out.write(tail)
        self._cleanup()

    def _cleanup(self) -> None:
        for name in ("_spool", "_fail_spool"):
            f = getattr(self, name, None)
            if f is not None:
                with contextlib.suppress(Exception):
                    f.close()


_WRITERS: dict[str, type[Writer]] = {"jsonl": JsonlWriter, "csv": CsvWriter, "html": HtmlWriter}


def format_from_path(path: str | os.PathLike) -> str:
    """The output format implied by a file name (.jsonl/.json/.ndjson, .csv, .html/.htm)."""
    suffix = Path(path).suffix.lower()
    fmt = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".html": "html", ".htm": "html"}.get(suffix)
    if fmt is None:
        raise OutputError(f"cannot tell the output format of {path!s}: use --format jsonl|csv|html or a .jsonl/.csv/.html name")
    return fmt


def make_writer(fmt: str, **kwargs: Any) -> Writer:
    """An unopened writer for `fmt` (``jsonl``, ``csv`` or ``html``)."""
    try:
        cls = _WRITERS[fmt]
    except KeyError:
        raise OutputError(f"unknown output format {fmt!r}: expected one of {', '.join(FORMATS)}") from None
    return cls(**kwargs)


def open_writer(path: str | os.PathLike, fmt: str | None = None, **kwargs: Any) -> Writer:
    """An opened writer for `path`; the format defaults to the file's extension."""
    if fmt is None:
        fmt = "jsonl" if os.fspath(path) == "-" else format_from_path(path)
    return make_writer(fmt, **kwargs).open(path)
