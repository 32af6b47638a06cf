"""The embedded default model: built from the shipped corpus on first use, then reused."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"


def default_model_dir() -> Path:
    """The default model's directory, training (and registering) it first if it is absent."""
    from train.config import load_config

    cfg = load_config(DEFAULT_CONFIG)
    model_dir = ROOT / cfg.output_dir
    if (model_dir / "cadrage.json").is_file():
        return model_dir
    from cadrage.prepare import params_from_file, prepared_splits, write_splits
    from train.run import run

    print("cadrage: no default model yet; building it from the shipped corpus (first run only)…", file=sys.stderr)
    params = params_from_file(ROOT / "params.yaml")
    write_splits(prepared_splits(params), ROOT / params.out)
    result = run(cfg)
    metrics = result["metrics"]["dev"]
    print(f"cadrage: default model saved to {model_dir} (dev loaded F1 {metrics.get('loaded_f1', 0):.3f}, "
          f"registered as {result.get('registry', {}).get('alias', 'unregistered')})", file=sys.stderr)
    return model_dir
