"""cadrage as an MLflow pyfunc: a DataFrame of articles (or sentences) in, one row per sentence
out, the same fields as `cadrage score`'s JSONL. The pyfunc loads the model directory it was
logged with, never anything from a hub.

The model is logged "from code": MLflow stores a three-line entry script (ENTRY_SCRIPT) that
builds `CadragePyfunc` and calls `mlflow.models.set_model`, plus the `cadrage/` and `models/`
source trees, instead of a cloudpickle of the class.

Request contract (what `mlflow models serve` exposes at POST /invocations):

* input columns: `text` (required, a non-empty string of at most MAX_TEXT_CHARS characters),
  optional `id`, `url`, `source`, `title`, `date` (strings or null) and `unit` (`article`, the
  default: the text is cleaned and split into sentences as `cadrage score` does; `sentence`:
  the text is one sentence);
* at most MAX_BATCH_CHARS characters of text per request, and at least one row;
* param `loaded_threshold`: a probability in [0, 1] that replaces the model's tuned threshold
  for this request (-1, the default, keeps the tuned one);
* output: one row per sentence with the fields of `cadrage score --format jsonl`; techniques,
  stance and cues are JSON strings; an input row that cannot be scored (empty text, no article
  text left after cleaning) is one row with `article_id` and `error`, as in the CLI.

A request that breaks the contract raises an MlflowException with INVALID_PARAMETER_VALUE,
which the scoring server answers with HTTP 400 and the message.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from cadrage.ingest import articles as ingest
from cadrage.ingest.readers import from_mapping
from cadrage.models.loading import load_model
from cadrage.paths import ROOT
from cadrage.scoring import Scorer
from cadrage.tracking import PYFUNC_NAME

INPUT_COLUMNS = ["text", "id", "url", "source", "title", "date", "unit"]
OPTIONAL_STRING_COLUMNS = ["id", "url", "source", "title", "date", "unit"]
UNITS = ("article", "sentence")
MAX_TEXT_CHARS = 200_000
MAX_BATCH_CHARS = 2_000_000
OUTPUT_TYPES = {
    "article_id": "string", "sentence_index": "long", "start": "long", "end": "long", "text": "string",
    "loaded": "double", "techniques": "string", "stance": "string", "voice": "string", "author_loaded": "boolean",
    "cues": "string", "error": "string",
}
OUTPUT_COLUMNS = list(OUTPUT_TYPES)
NUMERIC_DTYPES = {"sentence_index": "int64", "start": "int64", "end": "int64", "loaded": "float64", "author_loaded": "bool"}
JSON_COLUMNS = ("techniques", "stance", "cues")

ENTRY_SCRIPT = '''"""MLflow "models from code" entry for cadrage (written by cadrage.serving.log_pyfunc)."""
import mlflow

from cadrage.serving import CadragePyfunc

mlflow.models.set_model(CadragePyfunc())
'''


class InputError(ValueError):
    """A request that breaks the serving contract; the message says what is wrong."""


def _invalid(message: str) -> Exception:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(f"cadrage: {message}", error_code=INVALID_PARAMETER_VALUE)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _type_name(value: Any) -> str:
    """'a number', 'a list', 'an object'... as a JSON client would name what it sent."""
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return names.get(type(value), f"a {type(value).__name__}")


def validate_frame(frame: Any) -> list[dict]:
    """The rows of a request as clean records, or InputError naming the first problem."""
    if isinstance(frame, dict):
        try:
            frame = pd.DataFrame(frame)
        except ValueError as e:
            raise InputError(f"the input cannot be read as a table: {e}") from None
    if isinstance(frame, list) and all(isinstance(r, dict) for r in frame):
        frame = pd.DataFrame(frame)
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"the input must be a table of rows with a 'text' column, got {type(frame).__name__}")
    if "text" not in frame.columns:
        raise InputError(f"missing required column 'text' (got columns {[str(c) for c in frame.columns]})")
    if len(frame) == 0:
        raise InputError("empty batch: send at least one row with a 'text' column")
    records = []
    total = 0
    for n, rec in enumerate(frame.to_dict(orient="records")):
        text = rec.get("text")
        if _missing(text):
            raise InputError(f"row {n}: 'text' is null; every row needs a text")
        if not isinstance(text, str):
            raise InputError(f"row {n}: 'text' must be a string, got {_type_name(text)}")
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"row {n}: 'text' has {len(text):,} characters, more than the limit of "
                             f"{MAX_TEXT_CHARS:,} per text; split the document")
        total += len(text)
        if total > MAX_BATCH_CHARS:
            raise InputError(f"the batch holds more than {MAX_BATCH_CHARS:,} characters of text; send fewer rows per request")
        clean = {"text": text}
        for col in OPTIONAL_STRING_COLUMNS:
            value = rec.get(col)
            if _missing(value):
                continue
            if not isinstance(value, str):
                raise InputError(f"row {n}: '{col}' must be a string or null, got {_type_name(value)}")
            clean[col] = value
        unit = clean.pop("unit", None) or "article"
        if unit not in UNITS:
            raise InputError(f"row {n}: 'unit' must be 'article' or 'sentence', got {unit!r}")
        records.append((n, unit, clean))
    return records


def validate_threshold(params: dict | None) -> float | None:
    """The request's loaded_threshold override (None: the tuned threshold)."""
    value = (params or {}).get("loaded_threshold")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise InputError(f"param 'loaded_threshold' must be a number, got {value!r}")
    if value == -1:
        return None
    if not 0 <= value <= 1:
        raise InputError(f"param 'loaded_threshold' must be in [0, 1] (or -1 for the tuned threshold), got {value}")
    return float(value)


def build_articles(records: list) -> list:
    """Records -> Articles, cleaned and segmented as `cadrage score` does (segmentation batched
    over the article rows)."""

    articles: list = [None] * len(records)
    batch = []
    for k, (n, unit, rec) in enumerate(records):
        raw = from_mapping(rec, rid=f"row {n}", path=f"row {n}")
        if unit == "sentence":
            articles[k] = next(iter(ingest.build_sentence_records(raw)))
        else:
            batch.append((k, raw))
    for (k, _), article in zip(batch, ingest.build_articles([raw for _, raw in batch])):
        articles[k] = article
    return articles


def score_rows(scorer, records: list) -> list[dict]:
    """Output rows (dicts) for validated records."""
    rows = []
    for article, sentences in scorer.score_articles(build_articles(records)):
        if article.error:
            rows.append({"article_id": article.id, "error": article.error})
        rows.extend(sentences)
    return rows


def rows_to_frame(rows: list[dict]) -> pd.DataFrame:
    # Object columns keep ints as ints and missing values as None (JSON null, never NaN); a
    # numeric column without missing values (no error row) gets its numeric dtype back.
    out = pd.DataFrame([[row.get(c) for c in OUTPUT_COLUMNS] for row in rows], columns=OUTPUT_COLUMNS, dtype=object)
    for col, dtype in NUMERIC_DTYPES.items():
        if len(out) and not any(v is None for v in out[col]):
            out[col] = out[col].astype(dtype)
    for col in JSON_COLUMNS:
        out[col] = pd.Series([json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else None for v in out[col]],
                             index=out.index, dtype=object)
    return out


def score_records(scorer, records: list) -> pd.DataFrame:
    return rows_to_frame(score_rows(scorer, records))


CHUNK_CHARS = 20_000
"""Text scored per turn of the model lock: a request with long texts is scored a chunk (one or
more rows, up to this many characters, or one longer row) at a time, so that other requests'
chunks get their turn in between instead of waiting for the whole long request."""
DEFAULT_BUDGET_S = 50.0
BUDGET_ENV = "CADRAGE_REQUEST_BUDGET_S"


def request_budget() -> float:
    """Seconds a request may take ($CADRAGE_REQUEST_BUDGET_S, set by `cadrage serve --timeout`)."""
    try:
        value = float(os.environ.get(BUDGET_ENV, DEFAULT_BUDGET_S))
    except ValueError:
        return DEFAULT_BUDGET_S
    return value if value > 0 else DEFAULT_BUDGET_S


def chunks(records: list, limit: int = CHUNK_CHARS):
    batch, size = [], 0
    for rec in records:
        n = len(rec[2]["text"])
        if batch and size + n > limit:
            yield batch
            batch, size = [], 0
        batch.append(rec)
        size += n
    if batch:
        yield batch


class OverBudget(RuntimeError):
    pass


def score_within_budget(scorer, records: list, lock: threading.Lock, budget: float) -> pd.DataFrame:
    """Score chunk by chunk, taking the lock per chunk; OverBudget once `budget` seconds have
    passed (the rest is not scored: the worker is free again)."""
    deadline = time.monotonic() + budget
    rows: list[dict] = []
    for chunk in chunks(records):
        if time.monotonic() > deadline:
            raise OverBudget(f"the request took more than its {budget:g} s budget; send shorter texts or fewer rows per request")
        with lock:
            rows.extend(score_rows(scorer, chunk))
    return rows_to_frame(rows)


def score_frame(scorer, frame: pd.DataFrame) -> pd.DataFrame:
    """Score the rows of `frame` (InputError on a bad request); nested fields (techniques,
    stance, cues) as JSON strings so the answer fits MLflow's tabular response."""
    return score_records(scorer, validate_frame(frame))


class CadragePyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        # The model directory is an artifact of the logged model: nothing comes from a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

        # mlflow.pyfunc.load_model(uri, model_config={"backend": "onnx", "quantize": "int8"}) picks the runtime.
        config = getattr(context, "model_config", None) or {}
        self.model = load_model(context.artifacts["model_dir"], runtime=config.get("backend"), quantize=config.get("quantize"))
        self.scorer = Scorer(self.model)
        self._lock = threading.Lock()  # the scoring server calls predict from several threads

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        try:
            records = validate_frame(model_input)
            threshold = validate_threshold(params)
        except InputError as e:
            raise _invalid(str(e)) from None
        scorer = self.scorer
        if threshold is not None:
            scorer = Scorer(self.model, self.scorer.lexicon, overrides={"loaded_threshold": threshold})
        try:
            return score_within_budget(scorer, records, self._lock, request_budget())
        except OverBudget as e:
            from mlflow.exceptions import MlflowException
            from mlflow.protos.databricks_pb2 import DEADLINE_EXCEEDED

            raise MlflowException(f"cadrage: {e}", error_code=DEADLINE_EXCEEDED) from None


def input_example() -> pd.DataFrame:
    return pd.DataFrame({
        "text": ["Le ministre a présenté hier son projet de budget devant les députés. Le débat reprendra lundi."],
        "id": ["exemple-1"], "url": ["https://www.journal.example/budget"], "source": [None], "title": [None],
        "date": [None], "unit": ["article"],
    })


def signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", "text")] + [ColSpec("string", c, required=False) for c in INPUT_COLUMNS[1:]])
    outputs = Schema([ColSpec(OUTPUT_TYPES[c], c, required=c in ("article_id",)) for c in OUTPUT_COLUMNS])
    # -1 means "the threshold tuned on dev"; MLflow fills declared params with their default.
    params = ParamSchema([ParamSpec("loaded_threshold", "double", -1.0)])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def log_pyfunc(model_dir: str | Path):
    """Log the model directory as the active run's pyfunc (models from code), with signature,
    input example, its code and requirements; returns MLflow's ModelInfo (its model_uri is what
    gets registered)."""
    from importlib.metadata import requires

    requirements = [r for r in (requires("cadrage") or []) if "extra ==" not in r]
    with tempfile.TemporaryDirectory(prefix="cadrage-pyfunc-") as tmp:
        entry = Path(tmp) / "cadrage_pyfunc.py"
        entry.write_text(ENTRY_SCRIPT, encoding="utf-8")
        return mlflow.pyfunc.log_model(
            name=PYFUNC_NAME, python_model=str(entry), artifacts={"model_dir": str(model_dir)},
            signature=signature(), input_example=input_example(), pip_requirements=requirements,
            code_paths=[str(ROOT / "cadrage")],
        )
