"""The package's layer contract (pyproject.toml, [tool.importlinter]) holds: lower layers never
import higher ones and no modules import each other in a cycle; and only `cadrage` is installed."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency: bash scripts/setup.sh --dev"
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_only_cadrage_is_packaged():
    from setuptools import find_packages

    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    top = {name.split(".")[0] for name in find_packages(str(ROOT), include=include)}
    assert top == {"cadrage"}
