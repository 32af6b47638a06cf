"""Per-article summaries (cadrage.summary) on hand-written scored records."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _output_fixtures import article, loaded_article, neutral_article, sentence  # noqa: E402

from cadrage.reliability import UNKNOWN_SOURCE, normalize_source, source_key  # noqa: E402
from cadrage.summary import article_summary  # noqa: E402


def test_counts_shares_and_histograms():
    art, sents = loaded_article("a", "https://www.fr.sputniknews.com/x.html", "Titre")
    s = article_summary(art, sents)
    assert s["article_id"] == "a" and s["title"] == "Titre" and s["error"] is None
    assert s["source"] == "fr.sputniknews.com"
    assert s["n_sentences"] == 7
    assert (s["n_author"], s["n_reported"]) == (6, 1)
    assert s["n_author_loaded"] == 2
    assert s["author_loaded_share"] == pytest.approx(2 / 7)
    # the quoted « provocation » is loaded, but in a reported voice: counted, not flagged
    assert s["n_loaded"] == 3
    assert s["techniques"]["author"] == {"Loaded_Language": 2, "Doubt": 1}
    assert s["techniques"]["all"] == {"Loaded_Language": 3, "Doubt": 1}
    assert list(s["techniques"]["all"]) == ["Loaded_Language", "Doubt"]  # most frequent first


def test_stance_distribution():
    art, sents = loaded_article("a", None, "t")
    s = article_summary(art, sents)
    mean = s["stance"]["mean"]
    assert set(mean) == {"pro_kremlin", "anti_kremlin", "neutral"}
    assert sum(mean.values()) == pytest.approx(1.0, abs=1e-3)
    assert mean["pro_kremlin"] == pytest.approx((2 * 0.75 + 5 * 0.1) / 7, abs=1e-4)
    assert s["stance"]["counts"] == {"pro_kremlin": 2, "anti_kremlin": 0, "neutral": 5}


def test_evidence_is_author_voice_only_sorted_and_capped():
    sents = [sentence("x", i, f"Phrase chargée numéro {i}.", 0.5 + i / 20) for i in range(8)]
    sents.append(sentence("x", 8, "Citation très chargée.", 0.99, voice="reported"))
    s = article_summary(article("x"), sents)
    assert s["n_author_loaded"] == 8
    ev = s["evidence"]
    assert len(ev) == 5
    assert [e["sentence_index"] for e in ev] == [7, 6, 5, 4, 3]
    assert ev[0]["score"] == pytest.approx(0.85)
    assert all(set(e) >= {"sentence_index", "text", "score"} for e in ev)
    assert "Citation" not in " ".join(e["text"] for e in ev)


def test_evidence_carries_techniques_and_cues():
    art, sents = loaded_article("a", None, "t")
    ev = article_summary(art, sents)["evidence"]
    assert [e["sentence_index"] for e in ev] == [0, 1]
    assert ev[0]["techniques"] == ["Doubt", "Loaded_Language"]
    assert "en feignant craindre" in ev[0]["cues"]


def test_neutral_wire_copy_has_zero_author_loaded_share():
    art, sents = neutral_article("n", url="https://lemonde.fr/a")
    s = article_summary(art, sents)
    assert s["n_author_loaded"] == 0 and s["author_loaded_share"] == 0.0
    assert s["n_loaded"] == 1 and s["evidence"] == []


def test_failed_article_summary_carries_the_error():
    s = article_summary(article("bad", error="fichier vide"), [])
    assert s["error"] == "fichier vide"
    assert s["n_sentences"] == 0 and s["n_author_loaded"] == 0
    assert s["author_loaded_share"] is None and s["mean_loaded"] is None
    assert s["evidence"] == [] and s["techniques"] == {"author": {}, "all": {}}
    assert s["source"] == UNKNOWN_SOURCE


def test_warnings_are_kept():
    s = article_summary(article("w", warnings=["phrases collées réparées"]), [])
    assert s["warnings"] == ["phrases collées réparées"]


@pytest.mark.parametrize(
    "record, key",
    [
        ({"url": "https://www.LeMonde.fr/international/x.html"}, "lemonde.fr"),
        ({"url": "http://fr.sputniknews.com:80/a"}, "fr.sputniknews.com"),
        ({"source": "fr.sputniknews.com", "url": "https://other.example/x"}, "fr.sputniknews.com"),
        ({"source": "  RT   France "}, "RT France"),
        ({"source": "https://www.rt.com/fr"}, "rt.com"),
        ({"source": "", "url": None}, UNKNOWN_SOURCE),
        ({}, UNKNOWN_SOURCE),
    ],
)
def test_source_key(record, key):
    assert source_key(record) == key


def test_normalize_source_none_and_blank():
    assert normalize_source(None) is None
    assert normalize_source("   ") is None
