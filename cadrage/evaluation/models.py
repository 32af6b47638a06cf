"""Which models an evaluation compares: `--model` specs resolved to loaded models, plus the
lexicon-only baseline as the reference row."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cadrage import tracking
from cadrage.lexicon import DEFAULT_LEXICON_PATH
from cadrage.models.artifacts import ModelLoadError
from cadrage.models.lexicon_baseline import NAME, lexicon_baseline_model
from cadrage.models.loading import CadrageModel, load_model

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
NAMED = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)=(?P<spec>.+)$")


class ModelSpecError(RuntimeError):
    """A --model value that does not resolve to a cadrage model."""


@dataclass
class EvalModel:
    name: str
    source: str  # what the user passed (or "lexicon" for the baseline)
    model: CadrageModel
    run_id: str | None  # the MLflow run the model was trained in, when known
    is_baseline: bool = False

    @property
    def backend(self) -> str:
        return str(self.model.card.get("backend", "?"))


def model_uri(spec: str) -> str:
    """A path stays a path; a bare 32-hex MLflow run id becomes runs:/<id>/model."""
    if not Path(spec).exists() and RUN_ID.match(spec):
        return f"runs:/{spec}/model"
    return spec


def resolve_model(spec: str) -> EvalModel:
    """Load the model named by `spec`: a directory, models:/name@alias, models:/name/version,
    runs:/<id>/model, a bare run id, each optionally prefixed `NAME=` to name its row."""

    name = None
    m = NAMED.match(spec)
    if m and not Path(spec).exists():
        name, spec = m.group("name"), m.group("spec")
    uri = model_uri(spec)
    try:
        directory = tracking.resolve_model_dir(uri)
        model = load_model(directory)
    except (FileNotFoundError, ModelLoadError) as e:
        raise ModelSpecError(f"cannot load model {spec!r}: {e}") from None
    except Exception as e:  # a registry that cannot be reached, a malformed URI...
        raise ModelSpecError(f"cannot load model {spec!r}: {type(e).__name__}: {e}") from None
    run_id = model.card.get("mlflow_run_id")
    if run_id is None and uri.startswith("runs:/"):
        run_id = uri.split("/")[1]
    return EvalModel(name or str(model.card.get("name") or Path(directory).name), spec, model, run_id)


def baseline_for(models: list[EvalModel]) -> EvalModel:
    """The lexicon baseline, with the first model's label schema and lexicon (so its rows are
    comparable), or the project's defaults when no model was given."""

    schema = models[0].model.schema if models else None
    lexicon = DEFAULT_LEXICON_PATH
    if models and Path(models[0].model.lexicon_path).is_file():
        lexicon = Path(models[0].model.lexicon_path)
    return EvalModel(NAME, "lexicon", lexicon_baseline_model(schema, lexicon), None, is_baseline=True)


def unique_names(models: list[EvalModel]) -> None:
    """Make row names unique in place: a second `linear` becomes `linear-2`."""
    seen: dict[str, int] = {}
    for m in models:
        base = m.name
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            m.name = f"{base}-{seen[base]}"
