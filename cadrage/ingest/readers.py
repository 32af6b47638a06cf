"""Input discovery and reading: files, directories, globs and JSONL on stdin, to raw documents.

`read_inputs(paths)` yields one `RawDocument` per article, lazily: a directory is walked file by
file, a JSONL/CSV file line by line (never loaded whole), and a problem with one input becomes a
document with `error` set (naming the input and the reason) instead of an exception, so the other
inputs are still read.

Formats, chosen by extension:
  .txt/.text/.md  title on the first non-metadata line (when it looks like a headline); leading
                  metadata lines such as `date 2022-01 https://…`, `URL: …`, `Source: …` are parsed
                  and removed. A .txt file that holds HTML is extracted as HTML, with a warning.
  .html/.htm      main text, title, date and URL extracted with trafilatura.
  .jsonl/.ndjson  one JSON object per line: `text` plus optional `id`, `url`, `source`, `title`, `date`.
  .csv            same columns (delimiter sniffed among , ; tab |).
  "-"             JSONL on standard input.

Bytes are decoded as UTF-8 when valid (or as the byte-order mark says), then BOM-less UTF-16, then
with charset-normalizer's guess unless it is unsure, when cp1252/Latin-1 (what French text uses)
wins (`choose_encoding`); a warning names the encoding; NUL bytes or undecodable content mean a
binary file (error).
"""
from __future__ import annotations

import codecs
import csv
import glob
import io
import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""Largest single document (a .txt/.html file, one JSONL line, one CSV field) read; bigger is an error."""

TXT, HTML, JSONL, CSV = "txt", "html", "jsonl", "csv"
EXTENSIONS = {
    ".txt": TXT, ".text": TXT, ".md": TXT,
    ".html": HTML, ".htm": HTML, ".xhtml": HTML,
    ".jsonl": JSONL, ".ndjson": JSONL,
    ".csv": CSV,
}
FIELDS = ("id", "url", "source", "title", "date")
_SAMPLE = 64 * 1024


class InputError(Exception):
    """A reason why one input cannot be read; becomes the record's `error`."""


@dataclass
class RawDocument:
    id: str
    path: str
    text: str = ""
    url: str | None = None
    source: str | None = None
    title: str | None = None
    date: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    line: int | None = None
    fmt: str = TXT


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------
def _fmt_of(path: str) -> str | None:
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def discover(paths: Iterable[str]) -> Iterator[tuple[str, str | None, str | None]]:
    """(path, format, error) for every input file, in a stable order: directories recursively
    (sorted, hidden entries skipped), globs expanded and sorted, "-" for stdin."""
    for p in paths:
        if p == "-":
            yield "-", JSONL, None
        elif os.path.isdir(p):
            found = False
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    found = True
                    full = os.path.join(root, name)
                    fmt = _fmt_of(full)
                    if fmt is None:
                        yield full, None, (f"{full}: unsupported file type "
                                           f"'{os.path.splitext(name)[1] or name}' (expected .txt, .html, .jsonl or .csv)")
                    else:
                        yield full, fmt, None
            if not found:
                yield p, None, f"{p}: directory holds no file"
        elif os.path.exists(p):
            fmt = _fmt_of(p)
            yield p, fmt or TXT, None  # a file named explicitly is read as text whatever its name
        elif any(c in p for c in "*?["):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                yield p, None, f"{p}: no file matches this pattern"
            else:
                yield from discover(matches)
        else:
            yield p, None, f"{p}: no such file or directory"


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _printable_ratio(text: str) -> float:
    if not text:
        return 1.0
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\n\r\t\f\v") or ch == "\ufffd"
              or 0x7f <= ord(ch) <= 0x9f)
    return 1 - bad / len(text)


_FRENCH_LETTERS = frozenset("àâäæçéèêëîïôöœùûüÿÀÂÄÆÇÉÈÊËÎÏÔÖŒÙÛÜŸ")
WESTERN = ("cp1252", "latin_1", "iso8859_15")
"""The 8-bit encodings French text actually uses, in the order tried when the detector is unsure."""


def _letters_score(text: str) -> tuple[int, int]:
    """(French accented letters, other non-ASCII letters) of a decoded sample."""
    french = other = 0
    for ch in text:
        if ord(ch) > 127 and ch.isalpha():
            if ch in _FRENCH_LETTERS:
                french += 1
            else:
                other += 1
    return french, other


def _utf16_without_bom(data: bytes) -> str | None:
    """utf-16-le/-be for BOM-less UTF-16 text (a NUL in every other byte of ASCII), else None."""
    sample = data[:_SAMPLE - _SAMPLE % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def choose_encoding(data: bytes) -> tuple[str, bool]:
    """(encoding, detected) for bytes that are not valid UTF-8. charset-normalizer's guess is kept
    when it is a Western encoding, or when it reads the text as another script (Cyrillic, Greek,
    CJK…); a guess of another Latin-script code page (cp1250 reading « près » as « prčs ») is
    replaced by cp1252 (else Latin-1) whenever that decodes the bytes into more French letters.
    Short French files are where the detector is least sure."""
    from charset_normalizer import from_bytes  # deferred: only non-UTF-8 input needs it (import ~0.2 s)

    best = from_bytes(data[: 4 * _SAMPLE]).best() if data else None
    guess = codecs.lookup(best.encoding).name if best is not None else None
    if guess in {codecs.lookup(e).name for e in WESTERN}:
        return ("cp1252" if guess == "latin-1" and _decodes(data, "cp1252") else best.encoding), True
    western = next((e for e in WESTERN if _decodes(data, e)), None)
    if guess is None:
        return western or "latin_1", False
    guessed_text = data[: 4 * _SAMPLE].decode(best.encoding, errors="replace")
    if any(ord(ch) > 0x24F and ch.isalpha() for ch in guessed_text):
        return best.encoding, True  # another script: the detector knows what it sees
    if western is not None:
        french_w, other_w = _letters_score(data[: 4 * _SAMPLE].decode(western))
        french_g, other_g = _letters_score(guessed_text)
        if french_w - other_w > french_g - other_g:
            return western, False
    return best.encoding, True


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _how(detected: bool) -> str:
    return "detected" if detected else "the detector was unsure; French text is usually in this encoding"


def _decoded_as(name: str, encoding: str, how: str) -> str:
    """The warning for input that was not UTF-8."""
    return f"{name}: not valid UTF-8; decoded as {codecs.lookup(encoding).name} ({how})"


def decode_bytes(data: bytes, name: str) -> tuple[str, list[str]]:
    """Text and warnings; InputError for binary or undecodable content. UTF-8 first (a BOM
    decides when there is one), then BOM-less UTF-16, then `choose_encoding`."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), []
            except UnicodeDecodeError:
                break
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        try:
            text = data.decode(utf16)
        except UnicodeDecodeError:
            text = None
        if text is not None and _printable_ratio(text[:_SAMPLE]) >= 0.95:
            return text, [_decoded_as(name, utf16, "no byte-order mark")]
    if b"\x00" in data[:_SAMPLE]:
        raise InputError(f"{name}: binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    enc, detected = choose_encoding(data)
    try:
        text = data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        text = data.decode(enc, errors="replace")
    if _printable_ratio(text[:_SAMPLE]) < 0.95:
        raise InputError(f"{name}: binary file (mostly non-printable characters)")
    return text, [_decoded_as(name, enc, _how(detected))]


def _read_limited(path: str, max_bytes: int) -> bytes:
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if size > max_bytes:
        raise InputError(f"{path}: file too large ({_mb(size)}, limit {_mb(max_bytes)}; see --max-bytes)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: file too large (over the {_mb(max_bytes)} limit; see --max-bytes)")
    return data


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n} bytes"


# --------------------------------------------------------------------------------------------
# .txt
# --------------------------------------------------------------------------------------------
_URL_ONLY = re.compile(r"^(?:url\s*[:=]\s*)?(?P<url>https?://\S+)$", re.I)
_DATE_VALUE = r"\d{4}(?:-\d{1,2}(?:-\d{1,2}(?:T\S+| \d{1,2}:\d{2}\S*)?)?)?|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
# `date 2022-01 URL` (the scraper's layout) and the same without the keyword: `2022-01-24 URL`.
_META_LINE = re.compile(
    rf"^(?:date\s*[:=]?\s*(?P<date>{_DATE_VALUE}|\S+)|(?P<bare_date>{_DATE_VALUE}))?\s*(?P<url>https?://\S+)?$", re.I)
_KEY_VALUE = re.compile(r"^(?P<key>date|url|source|titre|title|id|lien|link|auteur|author)\s*[:=]\s*(?P<value>.+)$", re.I)
_BARE_DATE = re.compile(rf"^(?:{_DATE_VALUE})$")
_HTML_SNIFF = re.compile(r"^\s*(?:<!doctype\s+html|<html[\s>]|<\?xml[^>]*>\s*<html)", re.I)


def looks_like_html(text: str) -> bool:
    head = text[:4096]
    if _HTML_SNIFF.match(head):
        return True
    tags = len(re.findall(r"</?(?:p|div|body|head|span|a|article|section|br|meta|script)\b[^>]*>", head, re.I))
    return tags >= 5


def parse_metadata_line(line: str) -> dict[str, str] | None:
    """Fields of a metadata line (`date 2022-01 https://…`, `URL: …`, `2022-01-24`), else None."""
    line = line.strip()
    if not line:
        return None
    m = _KEY_VALUE.match(line)
    if m:
        key = {"titre": "title", "lien": "url", "link": "url", "auteur": "author"}.get(m["key"].lower(), m["key"].lower())
        return {key: m["value"].strip()}
    if _BARE_DATE.match(line):
        return {"date": line}
    m = _URL_ONLY.match(line)
    if m:
        return {"url": m["url"]}
    m = _META_LINE.match(line)
    date = m and (m["date"] or m["bare_date"])
    if m and (date or m["url"]) and (date is None or re.match(_DATE_VALUE, date)):
        return {k: v for k, v in (("date", date), ("url", m["url"])) if v}
    return None


def looks_like_title(line: str) -> bool:
    """A headline: short, and not ending like a sentence (a final « … » or ? ! is fine)."""
    words = line.split()
    if not words or len(words) > 30 or len(line) > 220:
        return False
    return not re.search(r"[.;:,…][\"»”’)\]]*$", line)


def parse_txt(text: str) -> dict:
    """Split a .txt article into metadata, title and body (the body starts with the title line)."""
    lines = text.split("\n")
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines):
        fields = parse_metadata_line(lines[i])
        if lines[i].strip() and fields is None:
            break
        if fields:
            for k, v in fields.items():
                meta.setdefault(k, v)
        i += 1
    body_lines = lines[i:]
    title = None
    first = body_lines[0].strip() if body_lines else ""
    rest = "\n".join(body_lines[1:]).strip()
    if first and rest and looks_like_title(first):
        title = first
        # metadata lines right under the title belong to the header too
        j = 1
        while j < len(body_lines):
            fields = parse_metadata_line(body_lines[j])
            if body_lines[j].strip() and fields is None:
                break
            for k, v in (fields or {}).items():
                meta.setdefault(k, v)
            j += 1
        body_lines = [body_lines[0]] + body_lines[j:]
    if title:
        meta.setdefault("title", title)
    meta["text"] = "\n".join(body_lines).strip()
    return meta


# --------------------------------------------------------------------------------------------
# .html
# --------------------------------------------------------------------------------------------
_trafilatura_quiet = False


_WORD_RE = re.compile(r"\w+")


def looks_like_prose(text: str) -> bool:
    """Some line reads as a sentence: 8 words or more, or 4 and more with a full stop somewhere
    (navigation menus are short lines of one or two words)."""
    punctuated = bool(re.search(r"[.!?…]", text))
    for line in text.splitlines():
        n = len(_WORD_RE.findall(line))
        if n >= 8 or (n >= 4 and punctuated):
            return True
    return False


def extract_html(html: str, name: str) -> dict:
    """Main text and metadata of an HTML page (trafilatura)."""
    global _trafilatura_quiet
    import warnings as _w

    import trafilatura

    if not _trafilatura_quiet:
        for lg in ("trafilatura", "htmldate", "courlan", "justext"):
            logging.getLogger(lg).setLevel(logging.CRITICAL)
        _trafilatura_quiet = True
    with _w.catch_warnings():
        _w.simplefilter("ignore")
        try:
            doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                              include_tables=False, deduplicate=False)
        except Exception as e:  # trafilatura/lxml failures on broken markup
            raise InputError(f"{name}: HTML extraction failed ({type(e).__name__}: {e})") from None
    if doc is None:
        raise InputError(f"{name}: no main text found in the HTML")
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (d.get("text") or "").strip()
    if not text:
        raise InputError(f"{name}: no main text found in the HTML")
    if not looks_like_prose(text):
        # a page of menus and links (« Accueil », « Monde »…): no article, whatever the footer's date
        raise InputError(f"{name}: no article text in the HTML, only navigation or boilerplate ({text[:60]!r}…)")
    return {"text": text, "title": d.get("title") or None, "date": d.get("date") or None,
            "url": d.get("url") or None}


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------
def _clean_field(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v != v:  # NaN
        return None
    s = str(v).strip()
    return s or None


def from_mapping(obj: dict, *, rid: str, path: str, line: int | None = None, fmt: str = JSONL,
                 warnings: list[str] | None = None) -> RawDocument:
    """A raw document from a record with `text` and optional id/url/source/title/date."""
    where = f"{path}:{line}" if line is not None else path
    doc = RawDocument(id=rid, path=path, line=line, fmt=fmt, warnings=list(warnings or []))
    for k in FIELDS:
        setattr(doc, k, _clean_field(obj.get(k)))
    if doc.id is None:
        doc.id = rid
    text = obj.get("text")
    if text is None:
        doc.error = f"{where}: no 'text' field"
    elif not isinstance(text, str):
        doc.error = f"{where}: 'text' is a {type(text).__name__}, not a string"
    elif not text.strip():
        doc.error = f"{where}: empty 'text'"
    else:
        doc.text = text
    return doc


def _read_file_document(path: str, fmt: str, max_bytes: int) -> RawDocument:
    doc = RawDocument(id=path, path=path, fmt=fmt)
    try:
        data = _read_limited(path, max_bytes)
        if not data.strip():
            raise InputError(f"{path}: empty file")
        text, warns = decode_bytes(data, path)
        doc.warnings.extend(warns)
        if not text.strip():
            raise InputError(f"{path}: empty file")
        if fmt == TXT and looks_like_html(text):
            doc.warnings.append(f"{path}: HTML content in a text file; main text extracted with trafilatura")
            fmt = HTML
        if fmt == HTML:
            d = extract_html(text, path)
        else:
            d = parse_txt(text)
            if not d["text"].strip():
                raise InputError(f"{path}: no text besides metadata")
        doc.text = d["text"]
        for k in ("url", "title", "date", "source"):
            if d.get(k):
                setattr(doc, k, d[k])
        if d.get("id"):
            doc.id = d["id"]
    except InputError as e:
        doc.error = str(e)
    return doc


def _iter_lines(fh: BinaryIO, max_bytes: int, first_line: int = 1, end: int | None = None) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) per line from the current position up to byte `end` (a line
    boundary; None: the end of the stream), counting from `first_line`; bytes is None for a line
    over max_bytes (skipped)."""
    lineno = first_line - 1
    while end is None or fh.tell() < end:
        chunk = fh.readline(max_bytes + 1)
        if not chunk:
            return
        lineno += 1
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            while True:  # skip the rest of the over-long line without keeping it
                more = fh.readline(1 << 20)
                if not more or more.endswith(b"\n"):
                    break
            yield lineno, None
        else:
            yield lineno, chunk


def _read_jsonl(fh: BinaryIO, path: str, max_bytes: int, id_prefix: str, *, first_line: int = 1,
                end: int | None = None, whole_file: bool = True) -> Iterator[RawDocument]:
    """The documents of a JSONL stream from its current position (line `first_line` of `path`)
    to byte `end`; no record at all is an "empty file" error only when it is the `whole_file`."""
    any_record = False
    for lineno, raw in _iter_lines(fh, max_bytes, first_line, end):
        rid = f"{id_prefix}:{lineno}"
        where = f"{path}:{lineno}"
        if raw is None:
            any_record = True
            yield RawDocument(id=rid, path=path, line=lineno, fmt=JSONL,
                              error=f"{where}: line too large (over the {_mb(max_bytes)} limit; see --max-bytes)")
            continue
        if not raw.strip():
            continue
        any_record = True
        warns: list[str] = []
        try:
            text, warns = decode_bytes(raw, where)
        except InputError as e:
            yield RawDocument(id=rid, path=path, line=lineno, fmt=JSONL, error=str(e))
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield RawDocument(id=rid, path=path, line=lineno, fmt=JSONL,
                              error=f"{where}: malformed JSON line ({e.msg} at column {e.colno})")
            continue
        if not isinstance(obj, dict):
            yield RawDocument(id=rid, path=path, line=lineno, fmt=JSONL,
                              error=f"{where}: expected a JSON object, got {type(obj).__name__}")
            continue
        yield from_mapping(obj, rid=rid, path=path, line=lineno, fmt=JSONL, warnings=warns)
    if not any_record and whole_file:
        yield RawDocument(id=id_prefix, path=path, fmt=JSONL, error=f"{path}: empty file (no JSON lines)")


@dataclass(frozen=True)
class JsonlChunk:
    """Lines [first_line, first_line + n) of a JSONL file, at bytes [start, end): a unit of work
    that a distributed reader hands to one task (`read_jsonl_chunk`)."""

    path: str
    start: int
    end: int
    first_line: int
    whole_file: bool


def jsonl_chunks(path: str, lines: int = 500, max_chunk_bytes: int = 64 << 20) -> list[JsonlChunk]:
    """Cuts a JSONL file at line boundaries into chunks of at most `lines` lines (and about
    `max_chunk_bytes`), so that one large file is read by many tasks with the line numbers (hence
    the record ids) a whole-file read gives. One scan for newlines, nothing parsed."""
    chunks: list[JsonlChunk] = []
    start = pos = 0
    line = first = 1
    blank = True
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                blank = blank and not block.strip()
                i = block.find(b"\n")
                while i >= 0:
                    line += 1
                    end = pos + i + 1
                    if line - first >= lines or end - start >= max_chunk_bytes:
                        chunks.append(JsonlChunk(path, start, end, first, False))
                        start, first = end, line
                    i = block.find(b"\n", i + 1)
                pos += len(block)
    except OSError:
        pass  # read_jsonl_chunk reports it, as the whole-file reader would
    if pos > start or not chunks:
        chunks.append(JsonlChunk(path, start, max(pos, start), first, False))
    if len(chunks) == 1 or blank:  # a blank file is one error record, as when read whole
        return [JsonlChunk(path, 0, pos, 1, True)]
    return chunks


def read_jsonl_chunk(chunk: JsonlChunk, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawDocument]:
    """The documents of one chunk, exactly as `read_inputs([chunk.path])` reads those lines."""

    def read(fh: BinaryIO) -> Iterator[RawDocument]:
        if chunk.whole_file:
            return _read_jsonl(fh, chunk.path, max_bytes, chunk.path)
        fh.seek(chunk.start)
        return _read_jsonl(fh, chunk.path, max_bytes, chunk.path, first_line=chunk.first_line, end=chunk.end,
                           whole_file=False)

    return _open_binary(chunk.path, JSONL, read)


def _detect_stream_encoding(fh: BinaryIO, path: str) -> tuple[str, list[str]]:
    sample = fh.read(_SAMPLE)
    fh.seek(0)
    for bom, enc in _BOMS:
        if sample.startswith(bom):
            return enc, []
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        return utf16, [_decoded_as(path, utf16, "no byte-order mark")]
    if b"\x00" in sample:
        raise InputError(f"{path}: binary file (NUL bytes), not text")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", []
    except UnicodeDecodeError:
        pass
    enc, detected = choose_encoding(sample)
    return enc, [_decoded_as(path, enc, _how(detected))]


def _open_binary(path: str, fmt: str, read) -> Iterator[RawDocument]:
    """`read(file)`'s documents for the file at `path`, opened in binary; one error record when it
    cannot be opened."""
    try:
        fh = open(path, "rb")
    except OSError as e:
        yield RawDocument(id=path, path=path, fmt=fmt, error=f"{path}: cannot read ({e.strerror or e})")
        return
    with fh:
        yield from read(fh)


def _read_csv(fh: BinaryIO, path: str, max_bytes: int) -> Iterator[RawDocument]:
    try:
        enc, warns = _detect_stream_encoding(fh, path)
    except InputError as e:
        yield RawDocument(id=path, path=path, fmt=CSV, error=str(e))
        return
    text = io.TextIOWrapper(fh, encoding=enc, errors="replace", newline="")
    sample = text.read(_SAMPLE)
    text.seek(0)
    if not sample.strip():
        yield RawDocument(id=path, path=path, fmt=CSV, error=f"{path}: empty file")
        return
    try:
        delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(max(max_bytes, 1 << 17))
    reader = csv.reader(text, csv.excel, delimiter=delimiter)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as e:
        yield RawDocument(id=path, path=path, fmt=CSV, error=f"{path}: unreadable CSV header ({e})")
        return
    cols = [h.strip().lstrip("\ufeff").lower() for h in header]
    if "text" not in cols:
        yield RawDocument(id=path, path=path, fmt=CSV,
                          error=f"{path}: CSV has no 'text' column (columns: {', '.join(cols) or 'none'})")
        return
    any_row = False
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            yield RawDocument(id=f"{path}:{start}", path=path, line=start, fmt=CSV,
                              error=f"{path}:{start}: malformed CSV row ({e}); rest of the file skipped")
            return
        if not any(c.strip() for c in row):
            continue
        any_row = True
        obj = dict(zip(cols, row))
        yield from_mapping(obj, rid=f"{path}:{start}", path=path, line=start, fmt=CSV, warnings=warns)
    if not any_row:
        yield RawDocument(id=path, path=path, fmt=CSV, error=f"{path}: CSV has a header but no rows")


def read_inputs(paths: Iterable[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                stdin: BinaryIO | None = None) -> Iterator[RawDocument]:
    """Raw documents of all inputs, lazily, in discovery order."""
    for path, fmt, error in discover(paths):
        if error:
            yield RawDocument(id=path, path=path, error=error)
        elif path == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield from _read_jsonl(stream, "-", max_bytes, "<stdin>")
        elif fmt == JSONL:
            yield from _open_binary(path, JSONL, lambda fh: _read_jsonl(fh, path, max_bytes, path))
        elif fmt == CSV:
            yield from _open_binary(path, CSV, lambda fh: _read_csv(fh, path, max_bytes))
        else:
            yield _read_file_document(path, fmt, max_bytes)
