"""cadrage as an MLflow pyfunc: a DataFrame of articles (or sentences) in, one row per sentence
out, the same fields as `cadrage score`'s JSONL. The pyfunc loads the model directory it was
logged with, never anything from a hub."""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd

from cadrage.tracking import PYFUNC_NAME

INPUT_COLUMNS = ["text", "id", "url", "source", "unit"]
OUTPUT_TYPES = {
    "article_id": "string", "sentence_index": "long", "start": "long", "end": "long", "text": "string",
    "loaded": "double", "techniques": "string", "stance": "string", "voice": "string", "author_loaded": "boolean",
    "cues": "string", "error": "string",
}
OUTPUT_COLUMNS = list(OUTPUT_TYPES)


def score_frame(scorer, frame: pd.DataFrame) -> pd.DataFrame:
    """Score the rows of `frame`; nested fields (techniques, stance, cues) as JSON strings so
    the answer fits MLflow's tabular response."""
    from cadrage.ingest import article_from_record

    if "text" not in frame.columns:
        raise ValueError("the input needs a 'text' column")
    articles = []
    for n, rec in enumerate(frame.to_dict(orient="records")):
        unit = rec.get("unit") or "article"
        if unit not in ("article", "sentence"):
            raise ValueError(f"row {n}: unit must be 'article' or 'sentence', got {unit!r}")
        if not isinstance(rec.get("text"), str):
            raise ValueError(f"row {n}: 'text' must be a string")
        clean = {k: (None if pd.isna(v) else v) for k, v in rec.items() if k in INPUT_COLUMNS}
        articles.append(article_from_record(clean, origin=f"row {n}", unit=unit))
    rows = []
    for article, sentences in scorer.score_articles(articles):
        if article.error:
            rows.append({"article_id": article.id, "error": article.error})
        rows.extend(sentences)
    out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    for col in ("techniques", "stance", "cues"):
        out[col] = out[col].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else None)
    return out


class CadragePyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from cadrage.scoring import Scorer
        from models.artifacts import load_model

        self.model = load_model(context.artifacts["model_dir"])
        self.scorer = Scorer(self.model)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from cadrage.scoring import Scorer

        scorer = self.scorer
        if params and params.get("loaded_threshold") is not None and params["loaded_threshold"] >= 0:
            scorer = Scorer(self.model, self.scorer.lexicon, overrides={"loaded_threshold": params["loaded_threshold"]})
        if isinstance(model_input, dict):
            model_input = pd.DataFrame(model_input)
        return score_frame(scorer, model_input)


def input_example() -> pd.DataFrame:
    return pd.DataFrame({
        "text": ["Le ministre a présenté hier son projet de budget devant les députés. Le débat reprendra lundi."],
        "id": ["exemple-1"], "url": ["https://www.journal.example/budget"], "source": [None], "unit": ["article"],
    })


def log_pyfunc(model_dir: str | Path):
    """Log the model directory as the active run's pyfunc, with signature, input example, its
    code and requirements; returns MLflow's ModelInfo (its model_uri is what gets registered)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    example = input_example()
    inputs = Schema([ColSpec("string", "text")] + [ColSpec("string", c, required=False) for c in INPUT_COLUMNS[1:]])
    outputs = Schema([ColSpec(OUTPUT_TYPES[c], c, required=c in ("article_id",)) for c in OUTPUT_COLUMNS])
    # -1 means "the threshold tuned on dev"; MLflow fills declared params with their default.
    params = ParamSchema([ParamSpec("loaded_threshold", "double", -1.0)])
    signature = ModelSignature(inputs=inputs, outputs=outputs, params=params)
    from importlib.metadata import requires

    requirements = [r for r in (requires("cadrage") or []) if "extra ==" not in r]
    root = Path(__file__).resolve().parent.parent
    return mlflow.pyfunc.log_model(
        name=PYFUNC_NAME, python_model=CadragePyfunc(), artifacts={"model_dir": str(model_dir)},
        signature=signature, input_example=example, pip_requirements=requirements,
        code_paths=[str(root / "cadrage"), str(root / "models")],
    )
