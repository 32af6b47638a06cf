"""Sentence scoring shared by the CLI, the pyfunc and eval: model heads + thresholds, lexicon
cues, and the voice decision that combines the model with the rule layer."""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from cadrage.lexicon import Lexicon
from cadrage import voice as rules
from cadrage.voice import covered
from models.artifacts import CadrageModel


def combined_voice(cues: list[dict], regions: list[tuple[int, int]], rule: str, model_reported: float) -> str:
    """Cue positions decide when there are cues: framing inside quotes or attributed clauses is
    `reported`, any cue outside them makes the sentence `author` (mixed sentences are the
    author's). Without cues, a sentence with no reported span is the author's; otherwise the
    rule layer's verdict stands unless the model's voice head confidently disagrees."""
    if cues:
        return "reported" if all(covered((c["start"], c["end"]), regions) for c in cues) else "author"
    if not regions:
        return "author"
    if rule == "reported" and model_reported < 0.1:
        return "author"
    if rule == "author" and model_reported > 0.9:
        return "reported"
    return rule


class Scorer:
    def __init__(self, model: CadrageModel, lexicon: Lexicon | None = None, overrides: dict | None = None):
        self.model = model
        self.schema = model.schema
        self.lexicon = lexicon or Lexicon.from_csv(model.lexicon_path)
        overrides = overrides or {}
        self.loaded_threshold = float(overrides.get("loaded_threshold", model.thresholds["loaded"]))
        self.technique_thresholds = np.array([model.thresholds["techniques"][t] for t in self.schema.techniques])
        self._reported = self.schema.voice_labels.index("reported") if "reported" in self.schema.voice_labels else None

    def score_texts(self, texts: list[str], analyses: Sequence[tuple[list, str]] | None = None) -> list[dict]:
        """Per-sentence predictions (cue offsets relative to each text). `analyses` gives each
        sentence's (reported spans, rule voice) when ingestion already computed them."""
        if not texts:
            return []
        if analyses is None:
            analyses = []
            for text in texts:
                analysis = rules.analyze(text)
                analyses.append((analysis.reported, rules.voice_of(text, analysis)))
        pred = self.model.predict(texts)
        out = []
        for i, text in enumerate(texts):
            loaded = float(pred.loaded[i])
            above = pred.techniques[i] >= self.technique_thresholds
            techniques = {t: round(float(pred.techniques[i, j]), 4) for j, t in enumerate(self.schema.techniques) if above[j]}
            cues = self.cues(text, set(techniques) if loaded >= self.loaded_threshold else set())
            regions, rule = analyses[i]
            model_reported = float(pred.voice[i, self._reported]) if self._reported is not None else 0.0
            voice = combined_voice(cues, regions, rule, model_reported)
            out.append({
                "loaded": round(loaded, 4),
                "techniques": techniques,
                "stance": {l: round(float(pred.stance[i, j]), 4) for j, l in enumerate(self.schema.stance_labels)},
                "voice": voice,
                "author_loaded": bool(loaded >= self.loaded_threshold and voice == "author"),
                "cues": cues,
            })
        return out

    def cues(self, text: str, predicted: set[str]) -> list[dict]:
        """Lexicon matches, tagged with a predicted technique where the entry allows one.
        Cues are shown only for sentences predicted loaded; an entry none of whose techniques
        was predicted keeps its own first technique (the model said loaded, the word is why)."""
        if not predicted:
            return []
        cues = []
        for m in self.lexicon.matches(text):
            shared = [t for t in m.entry.techniques if t in predicted]
            cues.append({
                "start": m.start, "end": m.end, "text": text[m.start:m.end],
                "technique": (shared or list(m.entry.techniques))[0], "origin": "lexicon",
            })
        return cues

    def score_articles(self, articles: Iterable, batch_sentences: int = 256) -> Iterator[tuple[object, list[dict]]]:
        """(article, sentence records) in input order; sentences of several articles are batched
        together so the model sees full batches."""
        pending: list = []
        n_pending = 0
        for article in articles:
            pending.append(article)
            n_pending += len(article.sentences or []) if not article.error else 0
            if n_pending >= batch_sentences:
                yield from self._flush(pending)
                pending, n_pending = [], 0
        yield from self._flush(pending)

    def _flush(self, articles: list) -> Iterator[tuple[object, list[dict]]]:
        sentences = [s for a in articles if not a.error for s in a.sentences]
        scored = iter(self.score_texts([s.text for s in sentences], [(s.reported_spans, s.voice) for s in sentences]))
        for a in articles:
            if a.error:
                yield a, []
                continue
            records = []
            for index, s in enumerate(a.sentences):
                records.append({"article_id": a.id, "sentence_index": index, "start": s.start, "end": s.end,
                                "text": s.text, **next(scored), "error": None})
            yield a, records
