"""Standard IR metrics (ir-measures), bootstrap confidence intervals, paired tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ragfusion.errors import MissingDependencyError

METRICS = {"ndcg@10": "nDCG@10", "recall@100": "R@100", "mrr@10": "RR@10"}
BOOTSTRAP_SAMPLES = 1000
_SEED = 13

Run = dict[str, dict[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def per_query(qrels: Qrels, run: Run) -> dict[str, dict[str, float]]:
    """{metric: {query id: value}} for every judged query (0 where the run has nothing)."""
    try:
        import ir_measures
    except ImportError as exc:
        raise MissingDependencyError("ir-measures", "eval", "Evaluation") from exc
    measures = {name: ir_measures.parse_measure(spec) for name, spec in METRICS.items()}
    by_measure = {str(m): name for name, m in measures.items()}
    values = {name: dict.fromkeys(qrels, 0.0) for name in METRICS}
    judged = {qid: dict(docs) for qid, docs in qrels.items()}
    scored = {qid: docs for qid, docs in run.items() if qid in judged and docs}
    for metric in ir_measures.iter_calc(list(measures.values()), judged, scored):
        values[by_measure[str(metric.measure)]][metric.query_id] = float(metric.value)
    return values


def bootstrap_ci(values: Sequence[float], samples: int = BOOTSTRAP_SAMPLES) -> list[float]:
    """95% percentile bootstrap interval of the mean."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return [0.0, 0.0]
    rng = np.random.default_rng(_SEED)
    means = data[rng.integers(0, data.size, size=(samples, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def paired_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided paired t-test p-value (1.0 when the two are identical)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or np.allclose(x, y):
        return 1.0
    from scipy.stats import ttest_rel

    return float(ttest_rel(x, y).pvalue)


def oracle_run(qrels: Qrels, candidates: Mapping[str, set[str]]) -> Run:
    """The best possible ordering of each query's candidate documents: relevant ones first,
    by grade. Its nDCG@10 is the ceiling for any fusion of those candidate lists."""
    run: Run = {}
    for qid, docs in candidates.items():
        judged = qrels.get(qid, {})
        ranked = sorted(docs, key=lambda d: (-judged.get(d, 0), d))
        run[qid] = {doc: float(len(ranked) - i) for i, doc in enumerate(ranked)}
    return run


def summarise(values: dict[str, dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ci: dict[str, list[float]] = {}
    for name, by_query in values.items():
        vals = list(by_query.values())
        out[name] = round(float(np.mean(vals)) if vals else 0.0, 4)
        ci[name] = bootstrap_ci(vals)
    out["ci95"] = ci
    return out
