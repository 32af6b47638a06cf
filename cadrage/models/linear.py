"""Fast multi-task baseline: TF-IDF word and character n-grams plus lexicon features, one
logistic regression per head. Rows lacking a head's label are left out of that head's fit."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from cadrage.ingest.voice import reported_spans
from cadrage.lexicon import Entry, Lexicon
from cadrage.models.artifacts import ModelLoadError
from cadrage.models.heads import HeadOutputs
from cadrage.schema import LabelSchema


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """Counts of lexicon cues per technique and stance lean, split by whether the cue sits
    inside a reported span: a quoted « junte » is evidence of reporting, not of the author."""

    # Bump whenever transform() changes its columns: heads fitted on other columns cannot be used.
    VERSION = 2

    def __init__(self, entries: list[list[str]] | None = None, techniques: list[str] | None = None):
        self.entries = entries
        self.techniques = techniques

    def fit(self, X, y=None):
        return self

    def _lexicon(self) -> Lexicon:
        if getattr(self, "_compiled", None) is None:
            self._compiled = Lexicon([Entry(e, tuple(t.split("|")), s) for e, t, s in self.entries])
        return self._compiled

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_compiled", None)
        return state

    def transform(self, X):
        lexicon = self._lexicon()
        columns = [f"{t}:{where}" for t in self.techniques for where in ("own", "reported")]
        columns += [f"{s}:{where}" for s in ("pro_kremlin", "anti_kremlin") for where in ("own", "reported")]
        index = {c: i for i, c in enumerate(columns)}
        n_extra = 2
        out = np.zeros((len(X), len(columns) + n_extra), dtype=np.float32)
        for row, text in enumerate(X):
            spans = reported_spans(text)
            for m in lexicon.matches(text):
                where = "reported" if any(s <= m.start and m.end <= e for s, e in spans) else "own"
                for t in m.entry.techniques:
                    if f"{t}:{where}" in index:
                        out[row, index[f"{t}:{where}"]] += 1
                if f"{m.entry.stance_lean}:{where}" in index:
                    out[row, index[f"{m.entry.stance_lean}:{where}"]] += 1
            inside = sum(e - s for s, e in spans)
            out[row, len(columns):] = (inside / max(len(text), 1), float(bool(spans)))
        return sparse.csr_matrix(np.log1p(out))


class LinearMultiTask:
    """fit(rows) / outputs(texts) for the four heads."""

    def __init__(
        self,
        schema: LabelSchema,
        lexicon_entries: list[list[str]],
        C: float = 4.0,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        max_features: int = 200_000,
        seed: int = 13,
        lexicon_weight: float = 1.0,
    ):
        self.schema = schema
        self.features = FeatureUnion(
            [
                ("word", TfidfVectorizer(ngram_range=tuple(word_ngrams), min_df=2, sublinear_tf=True, max_features=max_features)),
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngrams), min_df=2, sublinear_tf=True, max_features=max_features)),
                ("lexicon", LexiconFeatures(lexicon_entries, list(schema.techniques))),
            ],
            # Scaling the few dense lexicon columns up makes them cheaper under L2 regularisation
            # than the tens of thousands of n-gram columns that otherwise drown them out.
            transformer_weights={"word": 1.0, "char": 1.0, "lexicon": lexicon_weight},
        )
        self.C = C
        self.seed = seed
        self.heads: dict[str, LogisticRegression | None] = {}

    def _head(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000, random_state=self.seed)

    def fit(self, rows: list[dict]) -> "LinearMultiTask":
        X = self.features.fit_transform([r["text"] for r in rows])
        y_loaded = [r["loaded"] for r in rows]
        self.heads["loaded"] = self._fit_head(X, y_loaded)
        for i, technique in enumerate(self.schema.techniques):
            y = [None if r["techniques"] is None else int(technique in r["techniques"]) for r in rows]
            self.heads[f"technique:{technique}"] = self._fit_head(X, y)
        self.heads["stance"] = self._fit_head(X, [r["stance"] for r in rows], classes=self.schema.stance_labels)
        self.heads["voice"] = self._fit_head(X, [r["voice"] for r in rows], classes=self.schema.voice_labels)
        return self

    def _fit_head(self, X, y: list, classes: tuple[str, ...] | None = None) -> LogisticRegression | None:
        keep = [i for i, v in enumerate(y) if v is not None]
        labels = [y[i] for i in keep]
        if len(set(labels)) < 2:
            return None  # no usable signal: outputs() falls back to a constant prior
        return self._head().fit(X[keep], labels)

    def outputs(self, texts: list[str]) -> HeadOutputs:
        X = self.features.transform(texts)
        n = len(texts)
        loaded = self.heads.get("loaded")
        loaded_logit = loaded.decision_function(X) if loaded is not None else np.zeros(n)
        techniques = np.zeros((n, len(self.schema.techniques)))
        for i, technique in enumerate(self.schema.techniques):
            head = self.heads.get(f"technique:{technique}")
            if head is not None:
                techniques[:, i] = head.predict_proba(X)[:, list(head.classes_).index(1)]
        return HeadOutputs(
            loaded_logit=np.asarray(loaded_logit, dtype=np.float64),
            techniques=techniques,
            stance=self._class_probs(self.heads.get("stance"), X, self.schema.stance_labels),
            voice=self._class_probs(self.heads.get("voice"), X, self.schema.voice_labels),
        )

    @staticmethod
    def _class_probs(head, X, labels: tuple[str, ...]) -> np.ndarray:
        probs = np.full((X.shape[0], len(labels)), 1.0 / len(labels))
        if head is not None:
            p = head.predict_proba(X)
            probs[:] = 0.0
            for j, c in enumerate(head.classes_):
                probs[:, labels.index(c)] = p[:, j]
        return probs


SKOPS_FILE = "linear.skops"


def save_linear(model: LinearMultiTask, directory: Path) -> None:
    import skops.io as sio

    sio.dump({"features": model.features, "heads": model.heads, "C": model.C, "seed": model.seed,
              "lexicon_features_version": LexiconFeatures.VERSION}, directory / SKOPS_FILE)


def load_linear(directory: Path, schema: LabelSchema) -> LinearMultiTask:
    """Load with skops, trusting only scikit-learn/numpy/scipy types and our own LexiconFeatures."""
    import skops.io as sio

    path = directory / SKOPS_FILE
    untrusted = sio.get_untrusted_types(file=path)
    allowed_prefixes = ("sklearn.", "numpy.", "scipy.", "cadrage.models.linear.LexiconFeatures", "builtins.")
    refused = [t for t in untrusted if not t.startswith(allowed_prefixes)]
    if refused:
        raise ModelLoadError(f"{path}: refusing to load untrusted type(s) {refused}")
    state = sio.load(path, trusted=untrusted)
    version = state.get("lexicon_features_version", 1)
    if version != LexiconFeatures.VERSION:
        raise ModelLoadError(f"{directory}: trained with lexicon features v{version}, this code computes "
                             f"v{LexiconFeatures.VERSION}; retrain it (python -m train --config …)")
    model = LinearMultiTask.__new__(LinearMultiTask)
    model.schema = schema
    model.features, model.heads, model.C, model.seed = state["features"], state["heads"], state["C"], state["seed"]
    return model
