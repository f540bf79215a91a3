"""Cluster feedback: re-score fused hits by how much they resemble the best ones.

The cluster hypothesis says that documents resembling other highly ranked documents tend to
be relevant too. After fusion, every hit's score is pulled towards the scores of its nearest
neighbours among the ``top`` best hits:

    new(d) = (1 - weight) * score(d) + weight * sum_j sim(d, j) * score(j) / sum_j sim(d, j)

where ``j`` runs over the ``neighbours`` hits of the top ``top`` (other than ``d``) most similar
to ``d`` by cosine of their stored vectors, negative similarities counting as 0. It is a form of
pseudo-relevance feedback that needs no extra search: the vectors are already stored. Chosen on
train splits in benchmarks/cluster_feedback.py; it helps most where a question has several
relevant passages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from ragfusion.types import Hit

Vector = np.ndarray


def cluster_feedback(
    hits: Sequence[Hit],
    vectors: Mapping[str, Vector],
    *,
    weight: float,
    neighbours: int,
    top: int,
) -> list[Hit]:
    """``hits`` (best first) re-scored and re-sorted; ties keep their fused order.

    A hit whose chunk has no vector in ``vectors`` keeps its own score, and hits without
    vectors never serve as neighbours. With ``weight`` 0, fewer than two usable top hits, or
    ``neighbours`` 0, the input order and scores come back unchanged.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be between 0 and 1, got {weight!r}")
    if neighbours < 0 or top < 0:
        raise ValueError("neighbours and top must be >= 0")
    ranked = list(hits)
    scores = np.array([h.score for h in ranked], dtype=np.float64)
    has_vector = [h.chunk_id in vectors for h in ranked]
    order_by_score = np.argsort(-scores, kind="stable")
    pool = [int(i) for i in order_by_score if has_vector[i]][:top]
    count = min(neighbours, len(pool) - 1)
    if weight == 0.0 or count < 1:
        return ranked
    rows = [i for i, ok in enumerate(has_vector) if ok]
    unit = np.stack([_unit(vectors[ranked[i].chunk_id]) for i in rows])
    position = {i: n for n, i in enumerate(rows)}
    sims = unit @ unit[[position[j] for j in pool]].T  # (hits with vectors) x (pool)
    for n, j in enumerate(pool):  # never one's own neighbour
        sims[position[j], n] = -np.inf
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :count]
    w = np.clip(np.take_along_axis(sims, nearest, axis=1), 0.0, None)
    total = w.sum(axis=1)
    pulled = (w * scores[pool][nearest]).sum(axis=1) / np.where(total > 0, total, 1.0)
    own = scores[rows]
    pulled = np.where(total > 0, pulled, own)  # no similar neighbour: nothing to pull towards
    new = scores.copy()
    new[rows] = (1.0 - weight) * own + weight * pulled
    order = np.argsort(-new, kind="stable")
    return [dataclasses.replace(ranked[i], score=float(new[i])) for i in order]


def _unit(vector: Vector) -> Vector:
    v = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v
