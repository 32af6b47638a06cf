"""Issue 16: Hypothesis fuzzing of readers, cleaning, segmentation and voice analysis (random
Unicode, control characters, huge tokens, unbalanced « » and quotes). No exception escapes,
offsets always slice the original text, no sentence is lost. A few hundred examples by default;
`pytest -m slow` runs many more."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadrage.ingest.articles import _sentences_of
from cadrage.ingest.clean import clean_text
from cadrage.ingest.readers import InputError, decode_bytes, parse_txt
from cadrage.ingest.segment import get_nlp, segment
from cadrage.ingest.voice import analyze, quote_spans

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = ["«", "»", "“", "”", '"', "‘", "’", "„", "‹", "›", " « ", " » ", ".", "!", "?", "…", ";", ":", ",",
          "M.", "Mme", "J.-P.", "1.000", "3,2", "\n", "\n\n", "\t", "\r", "\x00", "\x0b", "\u200b", "\u00a0",
          "a déclaré", "selon l'AFP,", "a-t-il dit", "que", "qu'", "Le", "les va-t-en-guerre", "hystérie",
          "(", ")", "[", "]", "-", "—", "é", "É", "x" * 3000, "mot" * 700]
texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(min_size=1, max_size=40)), max_size=40).map("".join)


def _check_segmentation(text: str) -> None:
    spans = segment(text)
    prev = 0
    for a, b in spans:
        assert 0 <= prev <= a < b <= len(text), (a, b)
        assert text[a:b] == text[a:b].strip()
        prev = b
    # no sentence lost: every non-space character lies in some sentence
    covered = sum(b - a for a, b in spans)
    outside = [text[p] for p in range(len(text)) if not text[p].isspace()
               and not any(a <= p < b for a, b in spans)] if len(text) < 5000 else []
    assert not outside, outside[:10]
    assert covered <= len(text)


def _check_voice(text: str) -> None:
    for spans in (quote_spans(text),):
        assert all(0 <= a < b <= len(text) for a, b in spans)
    analysis = analyze(text)
    for a, b in analysis.reported + analysis.attribution + analysis.quotes:
        assert 0 <= a < b <= len(text)


def _check_pipeline(text: str) -> None:
    cleaned = clean_text(text).text
    _check_segmentation(cleaned)
    sentences = _sentences_of(cleaned, segment(cleaned))
    for s in sentences:
        assert cleaned[s.start:s.end] == s.text
        for a, b in s.reported_spans:
            assert 0 <= a < b <= len(s.text)


def _check_readers(data: bytes) -> None:
    try:
        text, warnings = decode_bytes(data, "fuzz.txt")
    except InputError as e:
        assert str(e).startswith("fuzz.txt: ")
        return
    assert isinstance(text, str) and all(isinstance(w, str) for w in warnings)
    meta = parse_txt(text)
    assert isinstance(meta["text"], str)


@pytest.fixture(scope="module", autouse=True)
def _spacy():
    get_nlp()


@FAST
@given(texts)
def test_segmentation(text):
    _check_segmentation(text)


@FAST
@given(texts)
def test_voice(text):
    _check_voice(text)


@FAST
@given(texts)
def test_clean_segment_voice(text):
    _check_pipeline(text)


@FAST
@given(st.one_of(st.binary(max_size=400), texts.map(lambda t: t.encode("utf-8")),
                 texts.map(lambda t: t.encode("latin-1", errors="replace")),
                 texts.map(lambda t: t.encode("utf-16"))))
def test_readers(data):
    _check_readers(data)


@pytest.mark.slow
@SLOW
@given(texts)
def test_segmentation_slow(text):
    _check_segmentation(text)


@pytest.mark.slow
@SLOW
@given(texts)
def test_clean_segment_voice_slow(text):
    _check_pipeline(text)
    _check_voice(text)


@pytest.mark.slow
@SLOW
@given(st.binary(max_size=2000))
def test_readers_slow(data):
    _check_readers(data)
