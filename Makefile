# The README's commands. `make demo` sets everything up and answers a question over the
# bundled sample documents; `make test` sets up and runs the checks and the test suite.
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
DEMO_INDEX := .demo-index
QUESTION ?= How often should I replace the HEPA filter?

LINT_PATHS := $(wildcard src tests benchmarks scripts)

.PHONY: setup demo test lint unit fuzz lock bench bench-answers bench-quality bench-fusion bench-loco bench-abstain bench-injection bench-onnx bench-stores bench-load bench-ingest-memory bench-peers bench-speed \
	bench-ingest bench-peers-speed bench-generation clean

setup:
	@scripts/setup.sh

demo: setup
	$(BIN)/ragfusion ingest examples/kb --index $(DEMO_INDEX)
	@echo "--- the answer (quoted from the sources, cited) ---"
	$(BIN)/ragfusion ask "$(QUESTION)" --index $(DEMO_INDEX)
	@echo "--- the passage sentences most similar to the question (--extractive) ---"
	$(BIN)/ragfusion ask "$(QUESTION)" --index $(DEMO_INDEX) --extractive

lint: setup
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

test: setup lint
	@scripts/test-deps.sh
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest -m "not models"

# The open-ended fuzz hunt (loaders and HTTP API, random seeds, many more examples) for
# FUZZ_MINUTES (default 20); what it finds is saved in tests/fuzz-regressions/ for the suite.
fuzz: setup
	@scripts/fuzz.sh

# Refresh requirements.lock, the exact versions setup installs (resolved afresh; ~15 min).
lock:
	@scripts/lock.sh

# Benchmarks (not tests): each writes JSON to benchmarks/results/; see benchmarks/RESULTS.md.
# `make bench` runs all of them one after the other (~2.5 h on 2 cores; never run two side by
# side: they share the cores) and prints the speed summary table of RESULTS.md.
bench: bench-answers bench-quality bench-peers bench-speed bench-ingest bench-peers-speed bench-generation
	$(BIN)/python benchmarks/summary.py

# Answer quality per mode beside LlamaIndex and LangChain on the same LLM (~40 min).
bench-answers: setup
	bash benchmarks/peers-setup.sh
	$(BIN)/python benchmarks/answers.py

bench-quality: setup
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/quality.py --llm --limit 60
	$(BIN)/python benchmarks/sample_corpus.py
	$(BIN)/python benchmarks/answer_passages.py

bench-fusion: setup
	$(BIN)/python benchmarks/fusion_search.py
	$(BIN)/python benchmarks/cluster_feedback.py

# Fusion chosen leave-one-collection-out over ../shared/data and the classic collections that
# scripts/collections.py converts (see benchmarks/collections.md; the first run ingests them all).
bench-loco: setup
	$(BIN)/python scripts/collections.py
	$(BIN)/python benchmarks/fusion_loco.py

# The abstain threshold; prompt injection against the bundled LLM (~10 min).
bench-abstain: setup
	$(BIN)/python benchmarks/abstain.py

bench-injection: setup
	$(BIN)/python benchmarks/injection.py

# The bundled MiniLM on torch vs ONNX Runtime; the local store vs Milvus Lite.
bench-onnx: setup
	$(BIN)/python benchmarks/onnx_embedding.py

bench-stores: setup
	$(BIN)/python benchmarks/stores.py

# Load test of the HTTP service; peak memory of a real ingest (~1.5 min).
bench-load: setup
	$(BIN)/python benchmarks/load.py

bench-ingest-memory: setup
	$(BIN)/python benchmarks/ingest_memory.py

bench-peers: setup
	bash benchmarks/peers-setup.sh
	$(BIN)/python benchmarks/peers_quality.py

# Search latency p50/p99 and memory at 10k, 100k and 1M chunks, warm and cold (~15 min; the
# first run also builds the indexes: SciFact base ~10 min, 100k ~2 min, 1M ~12 min).
bench-speed: setup
	$(BIN)/python benchmarks/speed.py --sizes 10000,100000,1000000 --plot benchmarks/results/speed.png

# Ingest throughput vs raw embedding throughput, with and without load/embed overlap (~15 min).
bench-ingest: setup
	$(BIN)/python benchmarks/ingest_speed.py --docs 2000

# LlamaIndex and LangChain next to ragfusion: index build, ingest, search latency (~25 min).
bench-peers-speed: setup
	bash benchmarks/peers-setup.sh
	$(BIN)/python benchmarks/peers_speed.py

# Time to first token and tokens/s of `ask` vs llama-cpp-python called directly (~15 min).
bench-generation: setup
	$(BIN)/python benchmarks/generation.py

clean:
	rm -rf $(DEMO_INDEX) .pytest_cache .mypy_cache .ruff_cache
