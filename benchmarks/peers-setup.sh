#!/usr/bin/env bash
# Creates .venv-peers, a separate virtualenv holding the peer frameworks compared by
# benchmarks/peers_quality.py (LlamaIndex and LangChain hybrid retrievers) and
# benchmarks/peers_answers.py (their default answer synthesis over an OpenAI-compatible chat
# server). It needs no torch and no sentence-transformers: the benchmark hands the peers
# precomputed vectors, and the answering LLM runs in another process.
#
#   bash benchmarks/peers-setup.sh            # create or update .venv-peers
#   PYTHON=python3.11 bash benchmarks/peers-setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PEERS_VENV:-$ROOT/.venv-peers}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet \
    llama-index-core \
    llama-index-retrievers-bm25 \
    langchain \
    langchain-community \
    langchain-classic \
    langchain-openai \
    llama-index-llms-openai-like \
    rank_bm25 \
    faiss-cpu \
    numpy

# The benchmark needs these to import; fail here rather than halfway through a run.
"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md

for name in ("llama-index-core", "llama-index-retrievers-bm25", "llama-index-llms-openai-like",
             "langchain", "langchain-classic", "langchain-community", "langchain-openai",
             "rank-bm25", "faiss-cpu", "numpy"):
    print(f"{name}=={md.version(name)}")
for forbidden in ("torch", "sentence-transformers"):
    try:
        md.version(forbidden)
    except md.PackageNotFoundError:
        continue
    raise SystemExit(f"{forbidden} was pulled into {__import__('sys').prefix}; it must not be")
EOF
echo "peers venv ready: $VENV"
