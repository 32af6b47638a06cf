"""Training runs (`python -m train`, `cadrage train`): configuration, the run itself (fit, tune
thresholds, save, track in MLflow, register), transformer fine-tuning, the embedded default model."""
