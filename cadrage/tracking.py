"""MLflow tracking and registry: where runs go, how models are registered and resolved.

Local by default (SQLite backend + artifact folder inside the project, both git-ignored);
MLFLOW_TRACKING_URI points anywhere else."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from cadrage.paths import ROOT

REGISTERED_MODEL = "cadrage"
PYFUNC_NAME = "model"


def tracking_uri(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{ROOT / 'mlflow.db'}"


def setup(explicit_uri: str | None = None):
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(explicit_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow


def ensure_experiment(name: str) -> str:
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        # Artifacts beside the database they belong to, so that a store is one folder.
        location = (Path(uri[len("sqlite:///"):]).resolve().parent / "mlruns").as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def register_run_model(run_id: str, model_uri: str, dev_score: float, name: str = REGISTERED_MODEL, *,
                       dataset_fingerprint: str | None = None,
                       rescore: Callable[[str], float] | None = None) -> dict:
    """Register the run's pyfunc; alias it `champion` only if it beats the current champion's
    dev macro-F1, else `challenger`. A champion trained on other data scored on another dev
    split: `rescore(model_uri)` scores it on this run's dev split instead (a champion that
    can no longer be loaded is not compared). Returns the comparison, also recorded on the run."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    champion_score = None
    champion_version = None
    champion_scored_on = None
    try:
        current = client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        current = None
    if current is not None:
        champion_version = current.version
        champion_run = client.get_run(current.run_id).data
        same_data = dataset_fingerprint is None or champion_run.tags.get("dataset_fingerprint") == dataset_fingerprint
        if same_data or rescore is None:
            champion_score = float(champion_run.metrics.get("dev_macro_f1", float("-inf")))
            champion_scored_on = "its own run"
        else:
            try:
                champion_score = float(rescore(f"models:/{name}/{champion_version}"))
                champion_scored_on = "this run's dev split (rescored: trained on other data)"
            except Exception as e:  # noqa: BLE001 - any failure means there is nothing to compare with
                champion_scored_on = f"not comparable: {type(e).__name__}: {e}"[:250]
    version = mlflow.register_model(model_uri, name).version
    alias = "champion" if champion_score is None or dev_score > champion_score else "challenger"
    client.set_registered_model_alias(name, alias, version)
    comparison = {
        "registered_version": str(version),
        "alias": alias,
        "dev_macro_f1": dev_score,
        "previous_champion_version": champion_version,
        "previous_champion_dev_macro_f1": champion_score,
        "previous_champion_scored_on": champion_scored_on,
    }
    client.set_model_version_tag(name, version, "dev_macro_f1", f"{dev_score:.4f}")
    for key, value in comparison.items():
        client.set_tag(run_id, f"registry.{key}", str(value))
    return comparison


def resolve_model_dir(uri: str) -> Path:
    """A local cadrage model directory for a path, `models:/name@alias`, `models:/name/version`
    or `runs:/<id>/model` URI. Registry URIs are downloaded from the tracking server."""
    if not uri.startswith(("models:/", "runs:/")):
        path = Path(uri)
        if not path.exists():
            raise FileNotFoundError(f"model {uri!r}: no such directory")
        return path
    import mlflow

    setup()
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except mlflow.exceptions.MlflowException as e:
        raise FileNotFoundError(f"model {uri!r} does not resolve in the registry at {mlflow.get_tracking_uri()}: {e.message}") from None
    candidates = [p.parent for p in local.rglob("cadrage.json")]
    if not candidates:
        raise FileNotFoundError(f"model {uri!r}: no cadrage model directory inside the logged artifacts")
    return candidates[0]
