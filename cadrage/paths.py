"""Where the project's own files live: the checkout that holds `configs/`, `data/` and `models/`
(cadrage is installed editable from it). Relative paths in configs are read against it."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project_path(p: str | Path) -> Path:
    """`p` itself when absolute, else `p` under the project root."""
    p = Path(p)
    return p if p.is_absolute() else ROOT / p
