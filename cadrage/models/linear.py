"""Fast multi-task baseline: TF-IDF word and character n-grams plus lexicon features (and, when
given a SentenceEncoder, a frozen encoder's sentence vectors), one logistic regression per head.
Rows lacking a head's label are left out of that head's fit."""
from __future__ import annotations

import json
import zipfile
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
from cadrage.models.embeddings import ENCODER_DIR, SentenceEncoder
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
        encoder: SentenceEncoder | None = None,
        encoder_weight: float = 2.0,
    ):
        self.schema = schema
        self.encoder = encoder
        # The vectors are unit-length over a few hundred dense columns; the weight sets how much
        # they may cost under the L2 penalty against the n-gram columns (chosen on real-dev).
        self.encoder_weight = encoder_weight
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

    def _matrix(self, texts: list[str], fit: bool = False):
        X = self.features.fit_transform(texts) if fit else self.features.transform(texts)
        if self.encoder is None:
            return X
        vectors = sparse.csr_matrix(self.encoder.embed(texts).astype(np.float64) * self.encoder_weight)
        return sparse.hstack([X, vectors], format="csr")

    def fit(self, rows: list[dict]) -> "LinearMultiTask":
        X = self._matrix([r["text"] for r in rows], fit=True)
        # Per-row sample weights (`weight`, default 1): lets a few real sentences count for more
        # than their number among thousands of authored ones, without duplicating them (which
        # would also skew the n-gram document frequencies).
        weights = np.array([float(r.get("weight", 1.0)) for r in rows])
        y_loaded = [r["loaded"] for r in rows]
        self.heads["loaded"] = self._fit_head(X, y_loaded, weights=weights)
        for i, technique in enumerate(self.schema.techniques):
            y = [None if r["techniques"] is None else int(technique in r["techniques"]) for r in rows]
            self.heads[f"technique:{technique}"] = self._fit_head(X, y, weights=weights)
        self.heads["stance"] = self._fit_head(X, [r["stance"] for r in rows], classes=self.schema.stance_labels, weights=weights)
        self.heads["voice"] = self._fit_head(X, [r["voice"] for r in rows], classes=self.schema.voice_labels, weights=weights)
        return self

    def _fit_head(self, X, y: list, classes: tuple[str, ...] | None = None,
                  weights: np.ndarray | None = None) -> LogisticRegression | None:
        keep = [i for i, v in enumerate(y) if v is not None]
        labels = [y[i] for i in keep]
        if len(set(labels)) < 2:
            return None  # no usable signal: outputs() falls back to a constant prior
        return self._head().fit(X[keep], labels, sample_weight=None if weights is None else weights[keep])

    def outputs(self, texts: list[str]) -> HeadOutputs:
        X = self._matrix(texts)
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

# Every (skops node, type) a linear model file may hold, reviewed from skops.io.get_untrusted_types
# and the node list of freshly trained models (configs/linear.yaml, configs/default.yaml, heads left
# empty). Exact names only: no prefix is trusted, and no function, method or other callable node is
# ever loaded (a FunctionTransformer(numpy.full_like) + TfidfVectorizer(analyzer=builtins.exec)
# file runs code with prefix trust).
ALLOWED_NODES: frozenset[tuple[str, str]] = frozenset({
    ("ObjectNode", "cadrage.models.linear.LexiconFeatures"),
    ("ObjectNode", "sklearn.pipeline.FeatureUnion"),
    ("ObjectNode", "sklearn.feature_extraction.text.TfidfVectorizer"),
    ("ObjectNode", "sklearn.feature_extraction.text.TfidfTransformer"),
    ("ObjectNode", "sklearn.linear_model._logistic.LogisticRegression"),
    ("DictNode", "builtins.dict"),
    ("ListNode", "builtins.list"),
    ("TupleNode", "builtins.tuple"),
    ("SetNode", "builtins.set"),
    ("JsonNode", "builtins.str"),
    ("JsonNode", "builtins.int"),
    ("JsonNode", "builtins.float"),
    ("JsonNode", "builtins.bool"),
    ("JsonNode", "builtins.NoneType"),
    ("NdArrayNode", "numpy.ndarray"),
    ("NdArrayNode", "numpy.int64"),
    ("NdArrayNode", "numpy.int32"),
    ("NdArrayNode", "numpy.float64"),
    ("NdArrayNode", "numpy.float32"),
    # type objects stored as values: TfidfVectorizer(dtype=numpy.float64), dict key types
    ("TypeNode", "numpy.float64"),
    ("TypeNode", "numpy.float32"),
    ("TypeNode", "builtins.str"),
    ("TypeNode", "builtins.int"),
})
# the types above that skops does not trust by default: what sio.load is told to trust
SKOPS_TRUSTED = ["cadrage.models.linear.LexiconFeatures"]


def save_linear(model: LinearMultiTask, directory: Path) -> None:
    import skops.io as sio

    encoder = None
    if model.encoder is not None:
        model.encoder.save(directory)
        encoder = {"max_length": model.encoder.max_length, "prefix": model.encoder.prefix, "weight": model.encoder_weight}
    sio.dump({"features": model.features, "heads": model.heads, "C": model.C, "seed": model.seed,
              "lexicon_features_version": LexiconFeatures.VERSION, "encoder": encoder}, directory / SKOPS_FILE)


def skops_nodes(path: Path) -> set[tuple[str, str]]:
    """(node kind, module.class) of every object a skops file describes, read from its schema
    without constructing anything; ModelLoadError when the file is not a readable skops archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: missing (a linear model directory holds {SKOPS_FILE})") from None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError, RuntimeError) as e:
        raise ModelLoadError(f"{path}: not a readable skops file ({type(e).__name__}: {e})") from None
    nodes: set[tuple[str, str]] = set()
    todo = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if "__loader__" in node or "__class__" in node:
                nodes.add((str(node.get("__loader__")), f"{node.get('__module__')}.{node.get('__class__')}"))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return nodes


def load_linear(directory: Path, schema: LabelSchema) -> LinearMultiTask:
    """Load with skops, after checking that the file describes only the exact types a linear
    model is made of (ALLOWED_NODES): nothing in it is constructed or called before that."""
    import skops.io as sio

    path = directory / SKOPS_FILE
    refused = sorted(f"{t} ({kind})" for kind, t in skops_nodes(path) - ALLOWED_NODES)
    if refused:
        raise ModelLoadError(f"{path}: refusing to load type(s) a linear model never holds: {', '.join(refused)}")
    try:
        untrusted = sio.get_untrusted_types(file=path)
        unexpected = sorted(set(untrusted) - set(SKOPS_TRUSTED))
        if unexpected:
            raise ModelLoadError(f"{path}: refusing to load untrusted type(s) {unexpected}")
        state = sio.load(path, trusted=SKOPS_TRUSTED)
    except ModelLoadError:
        raise
    except Exception as e:  # a damaged archive that still lists allowed types
        raise ModelLoadError(f"{path}: cannot be loaded ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or not {"features", "heads", "C", "seed"} <= set(state):
        raise ModelLoadError(f"{path}: not a cadrage linear model (expected features, heads, C, seed)")
    version = state.get("lexicon_features_version", 1)
    if version != LexiconFeatures.VERSION:
        raise ModelLoadError(f"{directory}: trained with lexicon features v{version}, this code computes "
                             f"v{LexiconFeatures.VERSION}; retrain it (python -m train --config …)")
    if not isinstance(state["features"], FeatureUnion) or not isinstance(state["heads"], dict) or not all(
            h is None or isinstance(h, LogisticRegression) for h in state["heads"].values()):
        raise ModelLoadError(f"{path}: not a cadrage linear model (unexpected features or heads)")
    encoder = state.get("encoder")
    if encoder is not None and not (isinstance(encoder, dict) and {"max_length", "prefix", "weight"} <= set(encoder)):
        raise ModelLoadError(f"{path}: not a cadrage linear model (unexpected encoder settings)")
    model = LinearMultiTask.__new__(LinearMultiTask)
    model.schema = schema
    model.features, model.heads, model.C, model.seed = state["features"], state["heads"], state["C"], state["seed"]
    model.encoder = None if encoder is None else SentenceEncoder(
        directory / ENCODER_DIR, max_length=int(encoder["max_length"]), prefix=str(encoder["prefix"]))
    model.encoder_weight = 2.0 if encoder is None else float(encoder["weight"])
    return model
