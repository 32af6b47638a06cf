"""`python -m eval`: evaluation harness (metrics with bootstrap intervals, calibration, slices,
error analysis, side-by-side comparison with the lexicon baseline). See eval/README.md."""
