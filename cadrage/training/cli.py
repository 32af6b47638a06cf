"""python -m train --config configs/NAME.yaml [key=value ...]"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from cadrage.data import DataError
from cadrage.models.artifacts import ModelLoadError
from cadrage.training.config import ConfigError, TrainError, load_config
from cadrage.training.run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description="Train a cadrage model, tracked in MLflow.")
    parser.add_argument("--config", help="YAML run configuration (see configs/); default: params file's train.config")
    parser.add_argument("--params", help="params.yaml whose `train` section overrides the config (the DVC pipeline's)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. training.epochs=1 tracking.register=true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        params = dvc_params = None
        if args.params:
            import yaml

            with open(args.params, encoding="utf-8") as f:
                dvc_params = yaml.safe_load(f) or {}
            params = dict(dvc_params.get("train") or {})
            args.config = args.config or params.get("config")
            params.pop("config", None)
        if not args.config:
            raise ConfigError("no config: pass --config, or --params with a train.config entry")
        cfg = load_config(args.config, args.overrides, params=params)

        result = run(cfg, dvc_params=dvc_params)
    except (ConfigError, DataError, TrainError, ModelLoadError) as e:  # e.g. a damaged champion to rescore
        print(f"train: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
