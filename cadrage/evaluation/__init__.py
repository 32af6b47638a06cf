"""Evaluation (`python -m eval`, `cadrage eval`): metrics with bootstrap intervals, calibration,
slices, error analysis and the side-by-side report. See eval/README.md."""
