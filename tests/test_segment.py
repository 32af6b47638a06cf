"""French sentence segmentation against a gold written for the project."""
import json
import time
from pathlib import Path

import pytest

from cadrage.ingest.segment import segment, sentences

GOLD = [json.loads(l) for l in (Path(__file__).parent / "fixtures" / "segmentation_gold.jsonl")
        .read_text(encoding="utf-8").splitlines() if l.strip()]


def test_gold_is_big_enough():
    assert len(GOLD) >= 25


@pytest.mark.parametrize("item", GOLD, ids=[g["sentences"][0][:30] for g in GOLD])
def test_gold_segmentation(item):
    assert sentences(item["text"]) == item["sentences"]


def test_offsets_are_exact_and_trimmed():
    text = "  Un titre sans point\n\nPremière phrase. « Deuxième phrase ! » Troisième ?  \n"
    spans = segment(text)
    got = [text[a:b] for a, b in spans]
    assert got == ["Un titre sans point", "Première phrase.", "« Deuxième phrase ! »", "Troisième ?"]
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)


def test_line_break_always_ends_a_sentence():
    assert sentences("Le titre d'une dépêche\nle texte commence en minuscule") == [
        "Le titre d'une dépêche", "le texte commence en minuscule"]


def test_no_split_before_lower_case_or_closing_punctuation():
    assert sentences("Il a vu « Le Monde ». et puis rien") == ["Il a vu « Le Monde ». et puis rien"]
    assert sentences("« Vraiment ? » s'est-il étonné.") == ["« Vraiment ? » s'est-il étonné."]


def test_empty_and_blank():
    assert segment("") == []
    assert segment("\n \n") == []


def test_speed():
    """Well above 2,000 sentences/s on one core in practice; here a loose bound for busy CI."""
    text = "\n\n".join(g["text"] for g in GOLD) + "\n\n"
    segment(text)  # model load
    n, t0 = 0, time.perf_counter()
    for _ in range(10):
        n += len(segment(text))
    rate = n / (time.perf_counter() - t0)
    assert rate > 300, rate
