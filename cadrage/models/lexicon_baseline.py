"""The lexicon-only baseline: no learning, just `data/lexicon.csv` and the voice rule layer.

It is the reference row of every evaluation (`python -m eval`), so a trained model is always
shown next to what the word list alone achieves.

Per sentence:
- lexicon matches are split by the rule layer (`cadrage.ingest.voice.reported_spans`) into the
  author's own matches and matches inside quotations or attributed clauses;
- `techniques`: probability 1.0 for every technique of an own match, else 0.0;
- `loaded` score (the logit): the number of own matches; the fixed map
  p = sigmoid(n - 0.5) makes "at least one own match" exactly the 0.5 threshold
  (0 matches: 0.38, 1: 0.62, 2: 0.82). It is a monotone map, not a calibration;
- `stance`: the majority `stance_lean` of the own matches (a tie between two leans, or no
  match, gives the neutral label);
- `voice`: the rule layer's decision (`cadrage.ingest.voice.rule_voice` with the matches as cues).

`lexicon_baseline_model(schema)` wraps it as a `CadrageModel` (thresholds 0.5, the map above as
its calibration) so that evaluation and scoring treat it like any trained model.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from cadrage.ingest.voice import covered, reported_spans, rule_voice
from cadrage.lexicon import DEFAULT_LEXICON_PATH, Lexicon
from cadrage.models.heads import HeadOutputs
from cadrage.models.loading import CadrageModel
from cadrage.schema import LabelSchema, label_schema

NAME = "lexicon_baseline"


def _neutral_label(labels: tuple[str, ...]) -> str:
    return "neutral" if "neutral" in labels else labels[-1]


class LexiconBaseline:
    """A backend with `.outputs(texts) -> HeadOutputs`, like the trained ones."""

    def __init__(self, lexicon: Lexicon, schema: LabelSchema):
        self.lexicon = lexicon
        self.schema = schema
        self._tech_index = {t: i for i, t in enumerate(schema.techniques)}
        self._neutral = _neutral_label(schema.stance_labels)

    def split_matches(self, text: str):
        """(own matches, reported matches, reported spans) of one sentence."""

        regions = reported_spans(text)
        own, reported = [], []
        for m in self.lexicon.matches(text):
            (reported if regions and covered((m.start, m.end), regions) else own).append(m)
        return own, reported, regions

    def outputs(self, texts: list[str]) -> HeadOutputs:
        n, s = len(texts), self.schema
        loaded = np.zeros(n)
        techniques = np.zeros((n, len(s.techniques)))
        stance = np.zeros((n, len(s.stance_labels)))
        voice = np.zeros((n, len(s.voice_labels)))
        for i, text in enumerate(texts):
            own, reported, _ = self.split_matches(text)
            loaded[i] = len(own)
            for m in own:
                for t in m.entry.techniques:
                    if t in self._tech_index:
                        techniques[i, self._tech_index[t]] = 1.0
            stance[i, s.stance_labels.index(self._stance(own))] = 1.0
            v = rule_voice(text, [(m.start, m.end) for m in own + reported] or None)
            voice[i, s.voice_labels.index(v) if v in s.voice_labels else 0] = 1.0
        return HeadOutputs(loaded, techniques, stance, voice)

    def _stance(self, own) -> str:
        leans = Counter(m.entry.stance_lean for m in own if m.entry.stance_lean in self.schema.stance_labels
                        and m.entry.stance_lean != self._neutral)
        if not leans:
            return self._neutral
        (top, count), *rest = leans.most_common()
        if rest and rest[0][1] == count:
            return self._neutral
        return top


class LexiconBaselineModel(CadrageModel):
    """A CadrageModel whose backend is the lexicon baseline; the lexicon file is its own."""

    def __init__(self, lexicon_path: Path, schema: LabelSchema):
        lexicon_path = Path(lexicon_path)
        card = {
            "backend": "lexicon",
            "name": NAME,
            "schema": schema.to_dict(),
            "thresholds": {"loaded": 0.5, "techniques": {t: 0.5 for t in schema.techniques}},
            "calibration": {"coef": 1.0, "intercept": -0.5},
        }
        self._lexicon_path = lexicon_path
        super().__init__(lexicon_path.parent, card, LexiconBaseline(Lexicon.from_csv(lexicon_path), schema))

    @property
    def lexicon_path(self) -> Path:
        return self._lexicon_path


def lexicon_baseline_model(schema: LabelSchema | None = None, lexicon_path: str | Path = DEFAULT_LEXICON_PATH) -> LexiconBaselineModel:
    """The baseline as a model: `schema` defaults to the default label schema."""
    return LexiconBaselineModel(Path(lexicon_path), schema or label_schema())
