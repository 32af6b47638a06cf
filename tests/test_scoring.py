"""The voice decision of `Scorer`: quoted framing must not make a sentence the author's."""
from __future__ import annotations

import numpy as np
import pytest

from cadrage.ingest.voice import analyze, own_words
from cadrage.lexicon import Entry, Lexicon
from cadrage.models.loading import Predictions
from cadrage.schema import label_schema
from cadrage.scoring import Scorer, combined_voice


class WordModel:
    """A model that calls a text loaded when it holds one of `loaded_words`, and records what
    it was asked to read."""

    def __init__(self, loaded_words: set[str]):
        self.schema = label_schema("default")
        self.thresholds = {"loaded": 0.5, "techniques": {t: 0.5 for t in self.schema.techniques}}
        self.lexicon_path = None
        self.card: dict = {}
        self.loaded_words = loaded_words
        self.read: list[str] = []

    def predict(self, texts: list[str]) -> Predictions:
        self.read.extend(texts)
        n, t = len(texts), len(self.schema.techniques)
        loaded = np.array([0.9 if any(w in x.lower() for w in self.loaded_words) else 0.1 for x in texts])
        techniques = np.zeros((n, t))
        techniques[:, self.schema.techniques.index("Loaded_Language")] = loaded
        stance = np.tile([0.0, 0.0, 1.0], (n, 1))
        voice = np.tile([0.5, 0.5], (n, 1))  # an undecided voice head: the rules and own words decide
        return Predictions(loaded, techniques, stance, voice)


def scorer(loaded_words: set[str], lexicon: list[str] = ("mascarade",)) -> tuple[Scorer, WordModel]:
    model = WordModel(loaded_words)
    entries = [Entry(e, ("Loaded_Language",), "neutral") for e in lexicon]
    return Scorer(model, lexicon=Lexicon(entries)), model


def test_own_words_drop_quotes_and_neutral_attributions_but_keep_loaded_verbs():
    text = "« La panique ne sert à rien », a déclaré la maire alors que la foule défilait dans le centre."
    assert own_words(text, analyze(text)) == "alors que la foule défilait dans le centre."
    text = "Le préfet a interdit le rassemblement, prétextant des risques de troubles."
    assert "prétextant" in own_words(text, analyze(text))
    assert own_words("« Un moment historique »", analyze("« Un moment historique »")) == ""


def test_framing_only_in_the_quote_is_reported():
    s, model = scorer({"panique"})
    text = "« La panique ne sert à rien », a déclaré la maire alors que la foule défilait dans le centre."
    [record] = s.score_texts([text])
    assert record["loaded"] == pytest.approx(0.9)
    assert record["voice"] == "reported" and not record["author_loaded"]
    assert model.read[-1] == "alors que la foule défilait dans le centre."


def test_framing_in_the_authors_own_words_stays_author():
    s, _ = scorer({"panique", "orchestrée"})
    text = "« Restez calmes », a déclaré la maire, pendant que la panique orchestrée gagnait la ville."
    [record] = s.score_texts([text])
    assert record["voice"] == "author" and record["author_loaded"]


def test_sentences_without_reported_spans_are_not_read_twice():
    s, model = scorer({"orchestrée"})
    s.with_model_cues = False
    s.score_texts(["Une panique orchestrée par les chaînes d'information.", "Le train part à midi."])
    assert len(model.read) == 2


def test_lexicon_cues_decide_before_own_words():
    s, model = scorer({"mascarade"})
    text = "Ce scrutin est une « mascarade », a déclaré l'opposant."
    [record] = s.score_texts([text])
    assert record["voice"] == "reported" and [c["text"] for c in record["cues"]] == ["mascarade"]
    assert len(model.read) == 1  # the cue settled it


def test_combined_voice_only_moves_towards_reported():
    regions = [(0, 10)]
    assert combined_voice([], regions, "author", 0.5, own_loaded=False) == "reported"
    # own words read as loaded do not override the rule layer: attribution-heavy fragments
    # are where a sentence-level model is least reliable
    assert combined_voice([], regions, "reported", 0.5, own_loaded=True) == "reported"
    assert combined_voice([], [], "author", 0.5, own_loaded=False) == "author"


def test_model_cues_mark_the_words_the_model_leans_on_when_the_lexicon_is_silent():
    s, _ = scorer({"fantoches"})
    text = "Les fantoches du ministère ont encore signé le décret d'application."
    [record] = s.score_texts([text])
    assert record["author_loaded"]
    assert [(c["text"], c["origin"], c["technique"]) for c in record["cues"]] == [("fantoches", "model", "Loaded_Language")]
    assert text[record["cues"][0]["start"]:record["cues"][0]["end"]] == "fantoches"


def test_adjacent_cue_words_merge_into_one_span():
    class PairModel(WordModel):  # loaded only while both words are there
        def predict(self, texts):
            out = super().predict(texts)
            out.loaded[:] = [0.9 if "fantoches" in x and "serviles" in x else 0.1 for x in texts]
            return out

    model = PairModel(set())
    s = Scorer(model, lexicon=Lexicon([Entry("mascarade", ("Loaded_Language",), "neutral")]))
    [record] = s.score_texts(["Les fantoches serviles du ministère ont signé."])
    assert [c["text"] for c in record["cues"]] == ["fantoches serviles"]


def test_model_cues_skip_function_words_and_unloaded_sentences():
    s, model = scorer({"que "})  # only a function word makes this model fire
    [record] = s.score_texts(["Le train part à midi alors que la gare ferme."])
    assert record["author_loaded"] and record["cues"] == []
    s, model = scorer({"fantoches"})
    s.score_texts(["Le train part à midi."])
    assert model.read == ["Le train part à midi."]  # nothing loaded: no occlusion calls


def test_lexicon_cues_win_and_model_cues_can_be_switched_off():
    s, _ = scorer({"mascarade", "honteuse"})
    [record] = s.score_texts(["Une mascarade honteuse."])
    assert [c["origin"] for c in record["cues"]] == ["lexicon"]
    off, model = scorer({"fantoches"})
    off.with_model_cues = False
    [record] = off.score_texts(["Les fantoches du ministère."])
    assert record["author_loaded"] and record["cues"] == [] and len(model.read) == 1
