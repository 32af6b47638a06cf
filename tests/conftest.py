from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def corpus_rows() -> list[dict]:
    from cadrage.prepare import load_corpus

    return load_corpus(ROOT / "data" / "authored")


@pytest.fixture(scope="session")
def small_splits(tmp_path_factory, corpus_rows) -> dict[str, Path]:
    """A small grouped split of the authored corpus (fast to train on), written as JSONL."""
    from cadrage.data import grouped_splits

    articles = sorted({r["article_id"] for r in corpus_rows})
    keep = set(articles[::4])  # every 4th article keeps all writers and topics represented
    rows = [r for r in corpus_rows if r["article_id"] in keep]
    splits = grouped_splits(rows, dev=0.2, test=0.2, seed=13, near_dup=0.8)
    out = tmp_path_factory.mktemp("splits")
    paths = {}
    for name, split in splits.items():
        paths[name] = out / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in split), encoding="utf-8")
    return paths


@pytest.fixture()
def tracking_uri(tmp_path, monkeypatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def split_overrides(paths: dict[str, Path], output_dir: Path) -> list[str]:
    return [f"data.train={paths['train']}", f"data.dev={paths['dev']}", f"data.test={paths['test']}", f"output_dir={output_dir}"]


@pytest.fixture(scope="session")
def trained_linear(small_splits, tmp_path_factory) -> dict:
    """A linear model trained once on the small split, registered as cadrage@champion in its own
    MLflow store; returns cadrage.training.run.run's result plus that store's `tracking_uri`."""
    from cadrage.training.config import load_config
    from cadrage.training.run import run

    tmp = tmp_path_factory.mktemp("trained-linear")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        cfg = load_config(ROOT / "configs" / "linear.yaml", split_overrides(small_splits, tmp / "model") + ["tracking.register=true"])
        return {**run(cfg), "tracking_uri": uri}
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
