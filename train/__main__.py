"""python -m train --config configs/NAME.yaml [key=value ...]"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from cadrage.data import DataError
from train.config import ConfigError, TrainError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description="Train a cadrage model, tracked in MLflow.")
    parser.add_argument("--config", required=True, help="YAML run configuration (see configs/)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. training.epochs=1 tracking.register=true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, args.overrides)
        from train.run import run

        result = run(cfg)
    except (ConfigError, DataError, TrainError) as e:
        print(f"train: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
