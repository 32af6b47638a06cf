"""The built-in models, by name: `default` (the embedded default, configs/default.yaml) and
`linear` (the fast option, configs/linear.yaml). Each is built from the shipped corpus (and the
real-text set when ../shared/real is there and its config asks for it) on first use, then reused
until what it is built from changes."""
from __future__ import annotations

import sys
from pathlib import Path

from cadrage.data import files_fingerprint
from cadrage.models.artifacts import ModelLoadError, read_card
from cadrage.models.linear import LexiconFeatures
from cadrage.paths import ROOT
from cadrage.prepare import params_from_file, prepared_splits, write_splits
from cadrage.realtext import real_dir
from cadrage.tracking import resolve_model_dir
from cadrage.training.config import load_config
from cadrage.training.run import run

# Measured on 2 cores (README, "The default model").
BUILD_TIME = {"default": "about 2 minutes", "linear": "about 1 minute", "linear-e5": "about 4 minutes"}
BUILT_IN = {"default": ROOT / "configs" / "default.yaml", "linear": ROOT / "configs" / "linear.yaml",
            "linear-e5": ROOT / "configs" / "linear-e5.yaml"}
SOURCES = ("data/authored", "data/lexicon.csv", "configs/labels.yaml", "params.yaml", "data/real")


def sources_fingerprint(name: str = "default") -> str:
    """Digest of everything the built-in model `name` is built from: the shipped files, its
    config, the lexicon-feature version, and whether the shared real text is there."""
    files = [ROOT / p for p in SOURCES] + [BUILT_IN[name]]
    return f"{files_fingerprint(files)}-f{LexiconFeatures.VERSION}-real{int(real_dir().is_dir())}"


def _built_from(model_dir: Path) -> str | None:
    try:
        card = read_card(model_dir)
    except ModelLoadError:
        return None
    return (card.get("provenance") or {}).get("sources")


def default_model_dir(name: str = "default") -> Path:
    """The built-in model's directory, training (and registering, for `default`) it first if it
    is absent or was built from other sources than the shipped ones."""
    if name not in BUILT_IN:
        raise ValueError(f"unknown built-in model {name!r} (expected one of {sorted(BUILT_IN)})")
    cfg = load_config(BUILT_IN[name])
    model_dir = ROOT / cfg.output_dir
    sources = sources_fingerprint(name)
    built_from = _built_from(model_dir)
    if built_from == sources:
        return model_dir

    why = f"no {name} model yet" if not (model_dir / "cadrage.json").is_file() else \
        f"the shipped corpus, lexicon or configuration changed since the {name} model was built"
    print(f"cadrage: {why}; building it from the shipped corpus ({BUILD_TIME[name]} on 2 cores)…",
          file=sys.stderr)
    params = params_from_file(ROOT / "params.yaml")
    write_splits(prepared_splits(params), ROOT / params.out)
    result = run(cfg, provenance={"sources": sources})
    metrics = result["metrics"]["dev"]
    alias = (result.get("registry") or {}).get("alias")
    print(f"cadrage: {name} model saved to {model_dir} (dev loaded F1 {metrics.get('loaded_f1', 0):.3f}, "
          f"{f'registered as {alias}' if alias else 'not registered'})", file=sys.stderr)
    return model_dir


def model_dir_for(name: str | None) -> Path:
    """The model directory a `--model` value names: a built-in model (None: default, built on
    first use), a directory, or a registry / run URI (downloaded)."""
    if name is None or name in BUILT_IN:
        return default_model_dir(name or "default")
    return resolve_model_dir(name)
