"""Sentence scoring shared by the CLI, the pyfunc and eval: model heads + thresholds, cues (lexicon
matches; else the spans a model's cue head tags; else the words the model leans on), and the voice
decision that combines the model with the rule layer."""
from __future__ import annotations

import re
from typing import Iterable, Iterator, Sequence

import numpy as np

from cadrage.ingest import voice as rules
from cadrage.ingest.voice import covered
from cadrage.lexicon import Lexicon
from cadrage.models.loading import CadrageModel


def combined_voice(cues: list[dict], regions: list[tuple[int, int]], rule: str, model_reported: float,
                   own_loaded: bool | None = None) -> str:
    """Cue positions decide when there are cues: framing inside quotes or attributed clauses is
    `reported`, any cue outside them makes the sentence `author` (mixed sentences are the
    author's). Without cues, a sentence with no reported span is the author's; a loaded one
    whose own words are not loaded on their own (`own_loaded` False) is `reported`. Otherwise
    the rule layer's verdict stands unless the model's voice head confidently disagrees."""
    if cues:
        return "reported" if all(covered((c["start"], c["end"]), regions) for c in cues) else "author"
    if not regions:
        return "author"
    if own_loaded is False:
        return "reported"
    if rule == "reported" and model_reported < 0.1:
        return "author"
    if rule == "author" and model_reported > 0.9:
        return "reported"
    return rule


_GAP = re.compile(r"[\s'’-]*")


def _whole_words(text: str, a: int, b: int) -> tuple[int, int]:
    """A token span widened to the words it cuts and trimmed of spaces and punctuation."""
    while a > 0 and text[a - 1].isalnum():
        a -= 1
    while b < len(text) and text[b].isalnum():
        b += 1
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and not text[b - 1].isalnum():
        b -= 1
    return a, b


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class Scorer:
    # Occlusion attribution: a word is a model cue when deleting it lowers the loaded logit by
    # at least MIN_DROP and by at least RELATIVE_DROP of the sentence's largest drop.
    MIN_DROP = 0.5
    RELATIVE_DROP = 0.5
    MAX_WORDS = 80

    def __init__(self, model: CadrageModel, lexicon: Lexicon | None = None, overrides: dict | None = None,
                 model_cues: bool = True, cue_voice: bool | None = None):
        self.model = model
        self.with_model_cues = model_cues
        # Whether a cue head's spans also decide the voice (by where they sit) when the lexicon
        # has no cue: the card's `cue_voice` (training's model.cue_voice), unless a caller says.
        self.cue_voice = bool(model.card.get("cue_voice", False) if cue_voice is None else cue_voice)
        self.schema = model.schema
        self.lexicon = lexicon or Lexicon.from_csv(model.lexicon_path)
        overrides = overrides or {}
        self.loaded_threshold = float(overrides.get("loaded_threshold", model.thresholds["loaded"]))
        self.technique_thresholds = np.array([model.thresholds["techniques"][t] for t in self.schema.techniques])
        self._reported = self.schema.voice_labels.index("reported") if "reported" in self.schema.voice_labels else None

    def score_texts(self, texts: list[str], analyses: Sequence[tuple[rules.Analysis, str]] | None = None) -> list[dict]:
        """Per-sentence predictions (cue offsets relative to each text). `analyses` gives each
        sentence's (voice analysis, rule voice) when ingestion already computed them."""
        if not texts:
            return []
        if analyses is None:
            analyses = []
            for text in texts:
                analysis = rules.analyze(text)
                analyses.append((analysis, rules.voice_of(text, analysis)))
        pred = self.model.predict(texts)
        loaded = pred.loaded
        techniques, cues = [], []
        for i, text in enumerate(texts):
            above = pred.techniques[i] >= self.technique_thresholds
            techniques.append({t: round(float(pred.techniques[i, j]), 4)
                               for j, t in enumerate(self.schema.techniques) if above[j]})
            cues.append(self.cues(text, set(techniques[i]) if loaded[i] >= self.loaded_threshold else set()))
        head_cues = self._head_cues(texts, pred, loaded, techniques, cues)
        voice_cues = [cues[i] or (head_cues.get(i, []) if self.cue_voice else []) for i in range(len(texts))]
        own_loaded = self._own_words_loaded(texts, [a[0] for a in analyses], loaded, voice_cues)
        voices = []
        for i in range(len(texts)):
            analysis, rule = analyses[i]
            model_reported = float(pred.voice[i, self._reported]) if self._reported is not None else 0.0
            voices.append(combined_voice(voice_cues[i], analysis.reported, rule, model_reported, own_loaded.get(i)))
        flagged = [bool(loaded[i] >= self.loaded_threshold and voices[i] == "author") for i in range(len(texts))]
        # A cue head's spans cost nothing more and are shown for every loaded sentence. Without a
        # cue head, occlusion cues explain flagged sentences only (one model call per content word),
        # after the voice: deciding the voice from them raised the dev hard-negative false-alarm
        # rate from 0.09 to 0.25 (they often land on attribution verbs).
        if not self.with_model_cues:
            model_cues = {}
        elif pred.cue_spans is not None:
            model_cues = head_cues
        else:
            model_cues = self.model_cues(texts, [i for i in range(len(texts)) if flagged[i] and not cues[i]],
                                         loaded, pred.techniques)
        out = []
        for i in range(len(texts)):
            out.append({
                "loaded": round(float(loaded[i]), 4),
                "techniques": techniques[i],
                "stance": {l: round(float(pred.stance[i, j]), 4) for j, l in enumerate(self.schema.stance_labels)},
                "voice": voices[i],
                "author_loaded": flagged[i],
                "cues": cues[i] or model_cues.get(i, []),
            })
        return out

    def _head_cues(self, texts: list[str], pred, loaded: np.ndarray, techniques: list[dict],
                   cues: list[list]) -> dict[int, list[dict]]:
        """The cue head's spans for loaded sentences the lexicon says nothing about, widened to
        whole words and tagged with the sentence's most probable predicted technique."""
        if pred.cue_spans is None:
            return {}
        names = list(self.schema.techniques)
        out = {}
        for i, text in enumerate(texts):
            if loaded[i] < self.loaded_threshold or cues[i] or not pred.cue_spans[i]:
                continue
            technique = max(techniques[i], key=techniques[i].get) if techniques[i] else names[int(np.argmax(pred.techniques[i]))]
            spans = []
            for a, b, confidence in pred.cue_spans[i]:
                a, b = _whole_words(text, a, b)
                if b > a and not (spans and a <= spans[-1]["end"]):
                    spans.append({"start": a, "end": b, "text": text[a:b], "technique": technique, "origin": "model",
                                  "confidence": confidence})
            if spans:
                out[i] = spans
        return out

    def _own_words_loaded(self, texts: list[str], analyses: list[rules.Analysis], loaded: np.ndarray,
                          cues: list[list]) -> dict[int, bool]:
        """For loaded sentences that hold reported spans and no lexicon cue: is the author's
        own part (`voice.own_words`) loaded when the model reads it alone? Quoted framing must
        not make the sentence the author's."""
        asked = [i for i in range(len(texts))
                 if loaded[i] >= self.loaded_threshold and analyses[i].reported and not cues[i]]
        own = {i: rules.own_words(texts[i], analyses[i]) for i in asked}
        to_score = [i for i in asked if own[i]]
        scores = self.model.predict([own[i] for i in to_score]).loaded if to_score else []
        result = {i: False for i in asked}
        result.update({i: bool(s >= self.loaded_threshold) for i, s in zip(to_score, scores)})
        return result

    def model_cues(self, texts: list[str], asked: list[int], loaded: np.ndarray,
                   technique_probs: np.ndarray) -> dict[int, list[dict]]:
        """Cues for sentences the lexicon says nothing about: the words whose deletion
        lowers the model's loaded score most (occlusion, so any backend works), adjacent words
        merged into one span, tagged with the predicted technique that drops most without them."""
        from spacy.lang.fr.stop_words import STOP_WORDS

        variants, owners = [], []
        for i in asked:
            for m in list(rules.WORDS.finditer(texts[i]))[: self.MAX_WORDS]:
                if len(m.group()) < 2 or m.group().lower() in STOP_WORDS:
                    continue  # function words carry the model's habits, not framing a reader can see
                variants.append(texts[i][: m.start()] + texts[i][m.end():])
                owners.append((i, m.start(), m.end()))
        if not variants:
            return {}
        pred = self.model.predict(variants)
        drops = _logit(loaded[[i for i, _, _ in owners]]) - _logit(pred.loaded)
        by_sentence: dict[int, list[int]] = {}
        for k, (i, _, _) in enumerate(owners):
            by_sentence.setdefault(i, []).append(k)
        names = list(self.schema.techniques)
        out: dict[int, list[dict]] = {}
        for i, ks in by_sentence.items():
            top = max(drops[k] for k in ks)
            if top < self.MIN_DROP:
                continue
            chosen = [k for k in ks if drops[k] >= max(self.MIN_DROP, self.RELATIVE_DROP * top)]
            spans: list[list[int]] = []  # [start, end, first k, last k]
            for k in chosen:
                _, a, b = owners[k]
                if spans and _GAP.fullmatch(texts[i][spans[-1][1]:a]):
                    spans[-1][1], spans[-1][3] = b, k
                else:
                    spans.append([a, b, k, k])
            above = np.flatnonzero(technique_probs[i] >= self.technique_thresholds)
            predicted = above if len(above) else np.arange(len(names))
            cues = []
            for a, b, k0, k1 in spans:
                without = pred.techniques[k0:k1 + 1][:, predicted].min(axis=0)
                j = predicted[int(np.argmax(technique_probs[i, predicted] - without))]
                cues.append({"start": a, "end": b, "text": texts[i][a:b], "technique": names[j], "origin": "model"})
            out[i] = cues
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
        analyses = [(rules.Analysis(reported=s.reported_spans, attribution=s.attribution_spans), s.voice) for s in sentences]
        scored = iter(self.score_texts([s.text for s in sentences], analyses))
        for a in articles:
            if a.error:
                yield a, []
                continue
            records = []
            for index, s in enumerate(a.sentences):
                records.append({"article_id": a.id, "sentence_index": index, "start": s.start, "end": s.end,
                                "text": s.text, **next(scored), "error": None})
            yield a, records
