"""Run retrieval modes over a BEIR collection and report metrics, intervals and latency;
learn fusion weights on a train split (``tune``)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragfusion.config import (
    DEFAULT_CLUSTER_FEEDBACK,
    DEFAULT_CLUSTER_NEIGHBOURS,
    DEFAULT_CLUSTER_TOP,
    RETRIEVERS,
    TUNED_FILE,
    PipelineConfig,
    apply_tuned,
    read_tuned,
)
from ragfusion.embedders.base import Vectors
from ragfusion.errors import ConfigError
from ragfusion.evaluation.beir import Collection
from ragfusion.evaluation.metrics import Run, oracle_run, paired_p_value, per_query, summarise
from ragfusion.pipeline import Pipeline
from ragfusion.retrieval.cluster_feedback import cluster_feedback
from ragfusion.retrieval.fusion import fuse
from ragfusion.types import RankedList

DEPTH = 100
RRF_K_GRID = (5, 10, 20, 40, 60, 100)
DENSE_WEIGHT_GRID = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)


@dataclass(frozen=True)
class Mode:
    """A retrieval mode: which retrievers, how many rewrites, which settings."""

    name: str
    retrievers: tuple[str, ...] = RETRIEVERS
    rewrites: int = 0
    overrides: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


_PLAIN = {
    "fusion": "rrf",
    "rrf_k": 60.0,
    "retriever_weights": {"bm25": 1.0, "dense": 1.0},
    "prf": False,
    "hyde": False,
    "cluster_feedback": 0.0,
}
MODES: dict[str, Mode] = {
    "bm25": Mode("bm25", ("bm25",), overrides=_PLAIN, description="BM25 alone"),
    "dense": Mode("dense", ("dense",), overrides=_PLAIN, description="dense alone"),
    "hybrid": Mode("hybrid", overrides=_PLAIN, description="plain RRF (k=60) of both"),
    "hybrid-weighted": Mode(
        "hybrid-weighted", description="fusion method, weights and feedback tuned by `tune`"
    ),
    "prf": Mode(
        "prf",
        overrides={**_PLAIN, "prf": True},
        description="plain RRF of both + RM3-expanded BM25",
    ),
    "fusion": Mode(
        "fusion", rewrites=2, overrides=_PLAIN, description="2 LLM rewrites x both retrievers, RRF"
    ),
    "hyde": Mode(
        "hyde",
        overrides={**_PLAIN, "hyde": True},
        description="plain RRF of both + dense search with a HyDE passage",
    ),
    "default": Mode("default", description="the shipped default settings"),
}
ALL_MODES = (*MODES, "oracle")


def default_index_dir(collection: Collection) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    digest = hashlib.blake2b(str(collection.path).encode(), digest_size=4).hexdigest()
    return cache / "ragfusion" / "eval" / f"{collection.name}-{digest}"


def _eval_config(
    base: PipelineConfig,
    mode: Mode,
    tuned: Mapping[str, Any] | None,
) -> PipelineConfig:
    # Modes start from the shipped defaults (keeping only the models of ``base``), so a tuned
    # fusion.json in the index never leaks into "default" or the other fixed modes.
    shipped = PipelineConfig(
        embedder=base.embedder,
        llm=base.llm,
        llm_base_url=base.llm_base_url,
        embed_base_url=base.embed_base_url,
        chunking=base.chunking,
    )
    config = dataclasses.replace(shipped, dedup="document", candidates=DEPTH, **mode.overrides)
    if mode.name == "hybrid-weighted":
        if tuned is None:
            raise ConfigError(
                "hybrid-weighted needs tuned weights: run ragfusion tune on a "
                "collection with a train split first"
            )
        config = apply_tuned(config, dict(tuned))
    return config


def _as_run(sources: Sequence[str]) -> dict[str, float]:
    """Scores from ranks, so the metric library sees exactly our order (no tie reshuffles);
    a document listed twice keeps its first (best) rank."""
    run: dict[str, float] = {}
    for i, source in enumerate(sources):
        run.setdefault(source, float(len(sources) - i))
    return run


@dataclass
class ModeResult:
    run: Run
    latencies_ms: list[float]
    degraded: int = 0


def run_mode(
    pipe: Pipeline,
    queries: Mapping[str, str],
    mode: Mode,
    tuned: Mapping[str, Any] | None,
    progress: Callable[[int], None] | None = None,
) -> ModeResult:
    view = pipe.with_config(_eval_config(pipe.config, mode, tuned))
    result = ModeResult(run={}, latencies_ms=[])
    for done, (qid, text) in enumerate(queries.items(), start=1):
        started = time.perf_counter()
        found = view.search(text, rewrites=mode.rewrites, k=DEPTH, retrievers=mode.retrievers)
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.degraded += found.degraded
        result.run[qid] = _as_run([hit.chunk.source for hit in found.hits])
        if progress:
            progress(done)
    return result


def evaluate(
    pipe: Pipeline,
    collection: Collection,
    modes: Sequence[str],
    *,
    limit: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Metrics per mode on the collection's judged queries, as the ``eval --json`` schema."""
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown:
        raise ConfigError(f"Unknown mode(s) {unknown}; choose from {', '.join(ALL_MODES)}")
    queries = dict(itertools.islice(collection.queries.items(), limit))
    qrels = {qid: collection.qrels[qid] for qid in queries}
    tuned = read_tuned(pipe.index_dir)
    needed = list(dict.fromkeys([*modes, *(["bm25", "dense"] if "oracle" in modes else [])]))
    results: dict[str, ModeResult] = {}
    for name in needed:
        if name == "oracle":
            continue
        tick = (lambda done, n=name: progress(n, done, len(queries))) if progress else None
        results[name] = run_mode(pipe, queries, MODES[name], tuned, tick)
    values = {name: per_query(qrels, r.run) for name, r in results.items()}
    if "oracle" in modes:
        candidates = {
            qid: set(results["bm25"].run.get(qid, {})) | set(results["dense"].run.get(qid, {}))
            for qid in queries
        }
        values["oracle"] = per_query(qrels, oracle_run(qrels, candidates))
    singles = [m for m in ("bm25", "dense") if m in values]
    best_single = max(
        singles, key=lambda m: float(np.mean(list(values[m]["ndcg@10"].values()))), default=None
    )
    report_modes: dict[str, Any] = {}
    for name in modes:
        summary = summarise(values[name])
        if name in results:
            latencies = results[name].latencies_ms
            summary["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 2)
            summary["latency_ms_p95"] = round(float(np.percentile(latencies, 95)), 2)
            summary["degraded_queries"] = results[name].degraded
        if best_single and name != best_single:
            order = list(qrels)
            summary["p_vs_best_single"] = round(
                paired_p_value(
                    [values[name]["ndcg@10"][q] for q in order],
                    [values[best_single]["ndcg@10"][q] for q in order],
                ),
                5,
            )
        if "hybrid" in values and name not in ("hybrid", "oracle"):
            order = list(qrels)
            summary["p_vs_hybrid"] = round(
                paired_p_value(
                    [values[name]["ndcg@10"][q] for q in order],
                    [values["hybrid"]["ndcg@10"][q] for q in order],
                ),
                5,
            )
        report_modes[name] = summary
    return {
        "dataset": collection.name,
        "split": collection.split,
        "n_queries": len(queries),
        "best_single": best_single,
        "index": str(pipe.index_dir),
        "tuned": tuned,
        "modes": report_modes,
        "warnings": list(collection.warnings),
    }


def candidate_lists(pipe: Pipeline, queries: Mapping[str, str]) -> dict[str, list[RankedList]]:
    """BM25 and dense lists (original question only) per query, for re-fusing offline."""
    view = pipe.with_config(_eval_config(pipe.config, MODES["hybrid"], None))
    return {
        qid: list(view.search(text, rewrites=0, k=DEPTH).lists) for qid, text in queries.items()
    }


def _settings() -> list[dict[str, Any]]:
    grid: list[dict[str, Any]] = [
        {"method": "rrf", "rrf_k": k, "dense": w}
        for k, w in itertools.product(RRF_K_GRID, DENSE_WEIGHT_GRID)
    ]
    grid += [
        {"method": "combsum", "normalization": "minmax", "dense": w} for w in DENSE_WEIGHT_GRID
    ]
    return [
        {**setting, "cluster_feedback": weight}
        for setting in grid
        for weight in (0.0, DEFAULT_CLUSTER_FEEDBACK)
    ]


def _fuse_setting(
    setting: Mapping[str, Any], lists: list[RankedList], vectors: Mapping[str, Vectors]
) -> list[str]:
    options: dict[str, Any] = {
        "retriever_weights": {"bm25": 1.0, "dense": setting["dense"]},
        "dedup": "document",
        "limit": None,
    }
    if setting["method"] == "rrf":
        options["k"] = setting["rrf_k"]
    else:
        options["normalization"] = setting["normalization"]
    fused = fuse(setting["method"], lists, **options)
    if setting["cluster_feedback"] > 0:
        fused = cluster_feedback(
            fused,
            vectors,
            weight=setting["cluster_feedback"],
            neighbours=DEFAULT_CLUSTER_NEIGHBOURS,
            top=DEFAULT_CLUSTER_TOP,
        )
    return [h.chunk.source for h in fused[:DEPTH]]


def tune(pipe: Pipeline, collection: Collection, *, limit: int | None = None) -> dict[str, Any]:
    """Grid-search the fusion method (RRF with its k, or CombSUM), the dense/BM25 weight and
    whether cluster feedback runs, for mean nDCG@10 on ``collection`` (use its train split);
    save the best in the index."""
    queries = dict(itertools.islice(collection.queries.items(), limit))
    qrels = {qid: collection.qrels[qid] for qid in queries}
    lists = candidate_lists(pipe, queries)
    vectors = {
        qid: pipe.store.vectors_of([h.chunk_id for ranked in per_q for h in ranked.hits])
        for qid, per_q in lists.items()
    }

    def score(setting: Mapping[str, Any]) -> float:
        run = {
            qid: _as_run(_fuse_setting(setting, per_q, vectors[qid]))
            for qid, per_q in lists.items()
        }
        return float(np.mean(list(per_query(qrels, run)["ndcg@10"].values())))

    plain = {"method": "rrf", "rrf_k": 60, "dense": 1.0, "cluster_feedback": 0.0}
    scored = [(score(setting), setting) for setting in _settings()]
    best_score, best = max(scored, key=lambda item: round(item[0], 6))
    tuned = {
        "method": best["method"],
        "rrf_k": best.get("rrf_k", 60),
        "normalization": best.get("normalization", "minmax"),
        "retriever_weights": {"bm25": 1.0, "dense": best["dense"]},
        "cluster_feedback": best["cluster_feedback"],
        "trained_on": {
            "dataset": collection.name,
            "split": collection.split,
            "n_queries": len(queries),
        },
        "train_ndcg@10": round(best_score, 4),
        "train_ndcg@10_plain_rrf": round(score(plain), 4),
    }
    (pipe.index_dir / TUNED_FILE).write_text(json.dumps(tuned, indent=2) + "\n")
    return tuned


def ensure_tuned(pipe: Pipeline, data_dir: Path) -> dict[str, Any]:
    """The index's tuned fusion; tuned now on the collection's train split if there is none."""
    from ragfusion.evaluation.beir import load_collection

    tuned = read_tuned(pipe.index_dir)
    if tuned is not None:
        return tuned
    if not (Path(data_dir) / "qrels" / "train.tsv").is_file():
        raise ConfigError(
            "hybrid-weighted needs tuned weights and this collection has no "
            "train split; tune on another collection first: ragfusion tune "
            "OTHER_COLLECTION --index INDEX"
        )
    return tune(pipe, load_collection(data_dir, "train"))
