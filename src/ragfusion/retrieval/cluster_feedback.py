"""Cluster feedback: re-score fused hits by how much they resemble the best ones.

The cluster hypothesis says that documents resembling other highly ranked documents tend to
be relevant too. After fusion, every hit's score is pulled towards the scores of its nearest
neighbours among the ``top`` best hits:

    new(d) = (1 - weight) * score(d) + weight * sum_j sim(d, j) * score(j) / sum_j sim(d, j)

where ``j`` runs over the ``neighbours`` hits of the top ``top`` (other than ``d``) most similar
to ``d`` by cosine of their stored vectors, negative similarities counting as 0 (when the pool
holds fewer than ``neighbours`` other hits, ``weight`` shrinks by found / asked). It is a form of
pseudo-relevance feedback that needs no extra search: the vectors are already stored. The
default weight, neighbours and pool were chosen leave-one-collection-out on 11 collections
(benchmarks/fusion_loco.py); it helps most where a question has several relevant passages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from ragfusion.stores.cosine import blocked_cosines, unit_rows
from ragfusion.types import Hit


def cluster_feedback(
    hits: Sequence[Hit],
    vectors: Mapping[str, npt.ArrayLike],
    *,
    weight: float,
    neighbours: int,
    top: int,
    limit: int | None = None,
) -> list[Hit]:
    """``hits`` (best first) re-scored and re-sorted, the first ``limit`` of them (all when
    None); ties keep their fused order.

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
    rows = [i for i, h in enumerate(ranked) if h.chunk_id in vectors]  # hits with a vector
    pool = sorted(rows, key=lambda i: -scores[i])[:top]  # stable: ties keep the fused order
    count = min(neighbours, len(pool) - 1)
    if weight == 0.0 or count < 1:
        return ranked[:limit]
    unit = unit_rows(np.stack([np.asarray(vectors[ranked[i].chunk_id]) for i in rows]))
    position = {i: n for n, i in enumerate(rows)}
    members = unit[[position[j] for j in pool]]
    sims = blocked_cosines(members, unit).T.astype(np.float64)  # rows x pool
    for n, j in enumerate(pool):  # never one's own neighbour
        sims[position[j], n] = -np.inf
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :count]
    w = np.clip(np.take_along_axis(sims, nearest, axis=1), 0.0, None)
    total = w.sum(axis=1)
    pulled = (w * scores[pool][nearest]).sum(axis=1) / np.where(total > 0, total, 1.0)
    own = scores[rows]
    pulled = np.where(total > 0, pulled, own)  # no similar neighbour: nothing to pull towards
    # Fewer neighbours than asked for (a small index, a narrow filter) say less about a hit:
    # the weight shrinks with them. Without this, two candidates and a weight above one half
    # would swap places.
    weight *= count / neighbours
    new = scores.copy()
    new[rows] = (1.0 - weight) * own + weight * pulled
    order = np.argsort(-new, kind="stable")[:limit]
    return [dataclasses.replace(ranked[i], score=float(new[i])) for i in order]


def feedback_candidates(
    hits: Sequence[Hit], *, weight: float, top: int, limit: int | None
) -> list[Hit]:
    """The hits (in their order) that can still be among the first ``limit`` after cluster
    feedback, when every hit has a vector: only their vectors need fetching.

    A hit's new score mixes its own with a similarity-weighted mean of pool scores (or keeps
    its own), so it lies between ``(1 - weight) * s + weight * min(pool_min, s)`` and
    ``(1 - weight) * s + weight * max(pool_max, s)``. A hit whose upper bound is below the
    ``limit``-th best lower bound can never make the cut. The ``top`` best hits (the pool of
    neighbours) are always kept.
    """
    ranked = list(hits)
    if limit is None or limit >= len(ranked) or weight == 0.0 or top < 1:
        return ranked
    scores = np.array([h.score for h in ranked], dtype=np.float64)
    pool = np.sort(scores)[::-1][:top]
    low = (1.0 - weight) * scores + weight * np.minimum(pool.min(), scores)
    high = (1.0 - weight) * scores + weight * np.maximum(pool.max(), scores)
    cut = np.sort(low)[::-1][limit - 1]
    keep = high >= cut
    keep[np.argsort(-scores, kind="stable")[:top]] = True  # the pool itself always stays
    return [h for h, kept in zip(ranked, keep, strict=True) if kept]
