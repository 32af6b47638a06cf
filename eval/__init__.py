"""`python -m eval` from the project root: a thin entry point to `cadrage.evaluation`, not an installed package."""
