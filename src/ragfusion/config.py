"""Pipeline settings. Index-shaping settings (embedder, chunking) are fixed by the index
manifest once built; the rest only affect queries and can change per run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragfusion.embedders import DEFAULT_EMBEDDER
from ragfusion.errors import ConfigError, IndexStateError
from ragfusion.ingest.chunking import ChunkingConfig
from ragfusion.ingest.loaders import DEFAULT_MAX_FILE_BYTES
from ragfusion.ingest.manifest import read_manifest
from ragfusion.llm import DEFAULT_LLM
from ragfusion.retrieval.fusion import DEFAULT_RRF_K, FUSION_METHODS
from ragfusion.retrieval.query_plan import REWRITE_WEIGHT

# Chosen by measurement (benchmarks/RESULTS.md): with the bundled 135M model, LLM rewrites
# do not improve retrieval, so none are made unless asked for.
DEFAULT_REWRITES = 0
# Chosen on the train splits of scifact and pubmedqa (benchmarks/fusion_search.py): CombSUM of
# min-max normalised BM25 and dense scores beat plain RRF and 189 other settings there, and
# beats plain RRF on every test split, including a collection never used for choosing.
DEFAULT_FUSION = "combsum"
DEFAULT_NORMALIZATION = "minmax"
SCORE_FUSIONS = ("combsum", "combmnz", "convex")
# Cluster feedback after fusion (retrieval/cluster_feedback.py): each hit's score moves 60% of
# the way towards the similarity-weighted score of its 15 nearest neighbours among the 50 best
# hits. Chosen leave-one-collection-out on 11 collections (benchmarks/fusion_loco.py): the same
# setting wins on every 10 and gains on the 11th, +0.018 nDCG@10 over plain RRF on average and
# no collection below RRF or the better retriever. Settings around it (weight 0.5-0.7, 12-20
# neighbours, a pool of 40-60) gain +0.012 to +0.018; a weight of 0.8 falls apart on CACM. The
# previous 0.5 / 5 / 10, chosen on the SciFact and PubMedQA train splits (about one relevant
# passage per question), gained +0.008 and fell below RRF on CACM and MED.
DEFAULT_CLUSTER_FEEDBACK = 0.6
DEFAULT_CLUSTER_NEIGHBOURS = 15
DEFAULT_CLUSTER_TOP = 50
RETRIEVERS = ("bm25", "dense")
# Calibrated on pubmedqa_pqal train_dev questions with half the abstracts removed, for the
# bundled MiniLM (benchmarks/abstain.py): the strictest cosine that still answers 98% of the
# answerable questions. Other embedders have other scales, so it applies to MiniLM only.
DEFAULT_ABSTAIN_BELOW: float | None = 0.455


TUNED_FILE = "fusion.json"


@dataclass(frozen=True)
class PipelineConfig:
    embedder: str = DEFAULT_EMBEDDER
    llm: str = DEFAULT_LLM
    # Servers for ``openai:MODEL`` specs (None: the environment, see llm.openai_compat).
    llm_base_url: str | None = None
    embed_base_url: str | None = None
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    rewrites: int = DEFAULT_REWRITES
    rewrite_weight: float = REWRITE_WEIGHT
    fusion: str = DEFAULT_FUSION
    normalization: str = DEFAULT_NORMALIZATION
    rrf_k: float = DEFAULT_RRF_K
    retriever_weights: dict[str, float] = field(
        default_factory=lambda: {name: 1.0 for name in RETRIEVERS}
    )
    dedup: str = "chunk"
    prf: bool = False
    prf_weight: float = 1.0
    hyde: bool = False
    hyde_weight: float = 1.0
    cluster_feedback: float = DEFAULT_CLUSTER_FEEDBACK  # 0 turns it off
    cluster_neighbours: int = DEFAULT_CLUSTER_NEIGHBOURS
    cluster_top: int = DEFAULT_CLUSTER_TOP
    candidates: int = 100
    answer_passages: int = 3  # measured on examples/questions.jsonl: see benchmarks/RESULTS.md
    # Extractive answers pick sentences by similarity and pay no prompt cost: more candidates.
    extractive_passages: int = 5
    # How `ask` answers by default: "reader" quotes the passage span that answers (measured
    # on the answer benchmark, benchmarks/answers.py), "extractive" the most similar
    # sentences, "generative" lets the LLM write (each sentence checked, verify_answers).
    answer_mode: str = "reader"
    reader_passages: int = 5
    verify_answers: bool = True
    max_answer_tokens: int = 256
    # Replace text addressed to the assistant in passages ("ignore previous instructions",
    # chat-template tokens) before the LLM sees them: ragfusion.answering.injection, measured in
    # benchmarks/injection.py.
    guard_passages: bool = True
    # Answer "I don't know" when the best dense hit for the question scores below this
    # cosine (None = never). Calibrated for the bundled MiniLM: benchmarks/abstain.py.
    abstain_below: float | None = DEFAULT_ABSTAIN_BELOW
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    embed_batch: int = 256
    commit_every_chunks: int = 20_000

    def __post_init__(self) -> None:
        if self.fusion not in FUSION_METHODS:
            raise ConfigError(
                f"Unknown fusion method '{self.fusion}'; choose one of "
                + ", ".join(sorted(FUSION_METHODS))
            )
        if self.rewrites < 0 or self.rewrites > 8:
            raise ConfigError(f"rewrites must be between 0 and 8, got {self.rewrites}")
        if self.rrf_k <= 0:
            raise ConfigError(f"rrf_k must be positive, got {self.rrf_k}")
        if self.normalization not in ("minmax", "zscore", "none"):
            raise ConfigError(
                f"normalization must be minmax, zscore or none, got {self.normalization!r}"
            )
        if self.dedup not in ("chunk", "document"):
            raise ConfigError(f"dedup must be 'chunk' or 'document', got {self.dedup!r}")
        if not 0.0 <= self.cluster_feedback <= 1.0:
            raise ConfigError(
                f"cluster_feedback must be between 0 (off) and 1, got {self.cluster_feedback}"
            )
        if self.cluster_neighbours < 1 or self.cluster_top < 2:
            raise ConfigError("cluster_neighbours must be at least 1 and cluster_top at least 2")
        if self.answer_mode not in ("reader", "extractive", "generative"):
            raise ConfigError(
                f"answer_mode must be reader, extractive or generative, got {self.answer_mode!r}"
            )
        if self.candidates < 1 or self.answer_passages < 1:
            raise ConfigError("candidates and answer_passages must be at least 1")
        for name, weight in self.retriever_weights.items():
            if name not in RETRIEVERS or not weight >= 0:
                raise ConfigError(
                    f"retriever weight {name}={weight} is invalid: retrievers are "
                    f"{', '.join(RETRIEVERS)} and weights must be >= 0"
                )


def read_tuned(index_dir: Path) -> dict[str, Any] | None:
    """Fusion settings learned by ``ragfusion tune`` for this index, if any."""
    path = index_dir / TUNED_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        float(data["rrf_k"])
        dict(data["retriever_weights"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a valid tuning file ({exc}); delete it or re-run ragfusion tune"
        ) from exc
    return dict(data)


def apply_tuned(config: PipelineConfig, tuned: dict[str, Any]) -> PipelineConfig:
    """The config with the tuned fusion method, RRF k, normalisation, weights and cluster
    feedback (files written before feedback existed keep the configured feedback)."""
    return dataclasses.replace(
        config,
        fusion=str(tuned.get("method", "rrf")),
        normalization=str(tuned.get("normalization", "minmax")),
        rrf_k=float(tuned["rrf_k"]),
        retriever_weights={str(k): float(v) for k, v in tuned["retriever_weights"].items()},
        cluster_feedback=float(tuned.get("cluster_feedback", config.cluster_feedback)),
    )


def config_for_index(index_dir: Path, **overrides: Any) -> PipelineConfig:
    """The configuration a run uses: defaults and ``overrides`` (None values ignored), then the
    fusion settings ``ragfusion tune`` learned for this index, if any. An index built with an
    ``openai:`` embedder keeps using it unless another embedder is asked for."""
    if overrides.get("embedder") is None and (served := _served_embedder(index_dir)):
        overrides = {**overrides, "embedder": served}
    config = PipelineConfig(**{k: v for k, v in overrides.items() if v is not None})
    tuned = read_tuned(index_dir)
    return apply_tuned(config, tuned) if tuned else config


def _served_embedder(index_dir: Path) -> str | None:
    """The ``openai:MODEL`` embedder the index manifest records, if that is what built it."""
    try:
        manifest = read_manifest(index_dir)
    except IndexStateError:  # opening the index reports it
        return None
    if manifest is not None and manifest.embedder.startswith("openai:"):
        return manifest.embedder
    return None
