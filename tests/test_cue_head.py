"""The token-level cue head: training tags from cue spans, spans from predicted tags, the Scorer's
use of them (cues, and the voice when the card says so), and a tiny model end to end."""
from __future__ import annotations

import numpy as np
import pytest

from cadrage.models.heads import cue_spans_from_tags
from cadrage.models.loading import Predictions
from cadrage.models.multitask import IGNORE
from cadrage.schema import label_schema
from cadrage.scoring import Scorer
from cadrage.lexicon import Entry, Lexicon
from cadrage.training.transformer import cue_tags

# "Les va-t-en-guerre attisent la peur." tokenised as: <s> Les va-t-en-guerre attisent la peur . </s>
OFFSETS = [(0, 0), (0, 3), (4, 6), (6, 18), (19, 27), (28, 30), (31, 35), (35, 36), (0, 0)]


def test_tags_mark_the_first_token_of_each_cue_and_ignore_what_the_row_cannot_say():
    row = {"loaded": 1, "cues": [{"start": 4, "end": 18, "technique": "Name_Calling-Labeling"},
                                 {"start": 31, "end": 35, "technique": "Loaded_Language"}]}
    assert cue_tags(row, OFFSETS) == [IGNORE, 0, 1, 2, 0, 0, 1, 0, IGNORE]
    assert cue_tags({"loaded": 0, "cues": []}, OFFSETS) == [IGNORE, 0, 0, 0, 0, 0, 0, 0, IGNORE]
    # loaded, but nobody marked which words: no token-level label rather than a wrong "O"
    assert cue_tags({"loaded": 1, "cues": []}, OFFSETS) == [IGNORE] * len(OFFSETS)
    assert cue_tags({"loaded": None, "cues": None}, OFFSETS) == [IGNORE] * len(OFFSETS)


def test_spans_come_from_b_and_i_runs_and_skip_special_tokens():
    tags = [0, 0, 1, 2, 0, 0, 1, 0, 1]  # the last B sits on </s>: ignored
    probs = np.eye(3)[tags] * 0.8 + 0.2 / 3
    spans = cue_spans_from_tags(probs, np.array(OFFSETS))
    assert [(a, b) for a, b, _ in spans] == [(4, 18), (31, 35)]
    assert all(0 < c <= 1 for _, _, c in spans)
    # an I after an O opens a span; a B right after a span closes it and opens another
    tags = [0, 0, 2, 2, 1, 0, 0, 0, 0]
    assert [(a, b) for a, b, _ in cue_spans_from_tags(np.eye(3)[tags], np.array(OFFSETS))] == [(4, 18), (19, 27)]


class HeadModel:
    """Loaded when the text holds `word`; its cue head tags the part of `word` it was given."""

    def __init__(self, word: str, cue_voice: bool):
        self.schema = label_schema("default")
        self.thresholds = {"loaded": 0.5, "techniques": {t: 0.5 for t in self.schema.techniques}}
        self.lexicon_path = None
        self.card = {"cue_voice": cue_voice}
        self.word = word

    def predict(self, texts):
        n, t = len(texts), len(self.schema.techniques)
        loaded = np.array([0.9 if self.word in x else 0.1 for x in texts])
        techniques = np.zeros((n, t))
        techniques[:, self.schema.techniques.index("Doubt")] = loaded
        spans = [[(x.index(self.word) + 2, x.index(self.word) + 5, 0.8)] if self.word in x else [] for x in texts]
        return Predictions(loaded, techniques, np.tile([0.0, 0.0, 1.0], (n, 1)), np.tile([0.5, 0.5], (n, 1)), spans)


def score(text: str, cue_voice: bool) -> dict:
    [record] = Scorer(HeadModel("feignant", cue_voice), lexicon=Lexicon([Entry("mascarade", ("Loaded_Language",), "neutral")])).score_texts([text])
    return record


def test_head_spans_become_whole_word_model_cues():
    record = score("Washington attise la crise en feignant de craindre une attaque.", cue_voice=False)
    assert record["author_loaded"]
    [cue] = record["cues"]
    assert (cue["text"], cue["technique"], cue["origin"]) == ("feignant", "Doubt", "model")


def test_the_card_decides_whether_the_head_spans_also_decide_the_voice():
    quoted = "« Ils agissent en feignant la peur », a affirmé le ministre, alors que le sommet s'ouvrait à Paris."
    assert score(quoted, cue_voice=True)["voice"] == "reported"
    own = "Le ministre a parlé, en feignant une inquiétude que rien ne justifie, selon l'agence."
    assert score(own, cue_voice=True)["voice"] == "author"


@pytest.mark.slow
def test_tiny_encoder_with_a_cue_head_trains_reloads_identically_and_exports(small_splits, tmp_path, tracking_uri):
    from conftest import ROOT, split_overrides

    from cadrage.models.loading import load_model
    from cadrage.training.cli import main

    out = tmp_path / "tiny-cues"
    assert main(["--config", str(ROOT / "configs" / "tiny.yaml"), *split_overrides(small_splits, out),
                 "model.tiny.vocab_size=800", "training.batch_size=16", "training.max_steps=12",
                 "model.cue_head=true", "model.cue_voice=true", "model.pooling=mean", "model.freeze=embeddings"]) == 0
    from cadrage.models.artifacts import read_card

    assert read_card(out)["cue_voice"] is True  # the Scorer reads it from the card
    texts = [
        "Les va-t-en-guerre attisent la peur.", "Le conseil municipal a voté le budget mardi soir."]
    a = load_model(out).predict(texts)
    b = load_model(out).predict(texts)
    assert a.cue_spans is not None and len(a.cue_spans) == len(texts)
    np.testing.assert_array_equal(a.loaded, b.loaded)
    assert a.cue_spans == b.cue_spans
    onnx = load_model(out, runtime="onnx").predict(texts)
    np.testing.assert_allclose(onnx.loaded, a.loaded, atol=1e-4)
    assert [[(s, e) for s, e, _ in row] for row in onnx.cue_spans] == [[(s, e) for s, e, _ in row] for row in a.cue_spans]
