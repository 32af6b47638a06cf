"""`python -m train` from the project root: a thin entry point to `cadrage.training`, not an installed package."""
