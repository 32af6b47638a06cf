"""The embedded default model: built from the shipped corpus on first use, then reused until the
shipped corpus, lexicon, label set, configuration or lexicon features change."""
from __future__ import annotations

import sys
from pathlib import Path

from cadrage.data import files_fingerprint
from cadrage.models.artifacts import ModelLoadError, read_card
from cadrage.models.linear import LexiconFeatures
from cadrage.paths import ROOT
from cadrage.prepare import params_from_file, prepared_splits, write_splits
from cadrage.training.config import load_config
from cadrage.training.run import run

DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"
SOURCES = ("data/authored", "data/lexicon.csv", "configs/labels.yaml", "configs/default.yaml", "params.yaml")


def sources_fingerprint() -> str:
    """Digest of everything the default model is built from."""

    return f"{files_fingerprint([ROOT / p for p in SOURCES])}-f{LexiconFeatures.VERSION}"


def _built_from(model_dir: Path) -> str | None:
    try:
        card = read_card(model_dir)
    except ModelLoadError:
        return None
    return (card.get("provenance") or {}).get("sources")


def default_model_dir() -> Path:
    """The default model's directory, training (and registering) it first if it is absent or
    was built from other sources than the shipped ones."""

    cfg = load_config(DEFAULT_CONFIG)
    model_dir = ROOT / cfg.output_dir
    sources = sources_fingerprint()
    built_from = _built_from(model_dir)
    if built_from == sources:
        return model_dir

    why = "no default model yet" if not (model_dir / "cadrage.json").is_file() else \
        "the shipped corpus, lexicon or configuration changed since the default model was built"
    print(f"cadrage: {why}; building it from the shipped corpus (about a minute)…", file=sys.stderr)
    params = params_from_file(ROOT / "params.yaml")
    write_splits(prepared_splits(params), ROOT / params.out)
    result = run(cfg, provenance={"sources": sources})
    metrics = result["metrics"]["dev"]
    print(f"cadrage: default model saved to {model_dir} (dev loaded F1 {metrics.get('loaded_f1', 0):.3f}, "
          f"registered as {result.get('registry', {}).get('alias', 'unregistered')})", file=sys.stderr)
    return model_dir
