"""Rank fusion: merge several ranked lists (query variants x retrievers) into one.

Every function here is pure: it takes :class:`~ragfusion.types.RankedList` objects and returns a
new list of new :class:`~ragfusion.types.Hit` objects. Nothing is mutated, nothing is read from or
written to disk.

Notation: ``L`` is an input list, ``rank_L(d)`` the 1-based position of ``d`` in ``L``, ``s_L(d)``
its original retriever score, and ``w_L`` the weight of the list::

    w_L = L.weight * retriever_weights.get(L.retriever, 1.0)

``L.weight`` is the per-query weight (e.g. the original question vs. a rewrite), the mapping holds
per-retriever weights (e.g. BM25 vs. dense). A document absent from ``L`` gets nothing from ``L``:
no fake rank, no fake score.

Methods
-------
``rrf``  Reciprocal Rank Fusion (Cormack, Clarke & Buettcher, SIGIR 2009)::

    score(d) = sum_L  w_L / (k + rank_L(d))        k = DEFAULT_RRF_K = 60

  Ranks are **1-based**, as in the paper: the top hit of a list contributes ``w / (k + 1)``,
  i.e. 1/61 for k = 60. Several popular implementations enumerate from 0 and give the top hit
  1/60; that is not the published formula, shifts every score and changes how strongly the
  top of a list dominates, so scores are not comparable with the paper or with k tuned for it.
  RRF uses ranks only; retriever scores are copied into provenance but never inspected.

``combsum`` / ``combmnz`` (Fox & Shaw, TREC-2 1994)::

    combsum(d) = sum_L w_L * norm_L(s_L(d))
    combmnz(d) = combsum(d) * |{L : d in L and w_L > 0}|

``convex`` Convex combination (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
  Retrieval", ACM TOIS 2023)::

    convex(d) = sum_L a_L * norm_L(s_L(d)),   a_L = w_L / sum_{L' non-empty} w_L'

  i.e. CombSUM with the weights rescaled to sum to 1 over the lists that returned hits, so with
  min-max normalisation a fused score lies in [0, 1]. Scaling all weights by a constant does not
  change the result.

``dbsf`` Distribution-based score fusion (M. Mazzeschi, "Distribution-based score fusion", 2023;
  the fusion offered by Qdrant)::

    lo = mu_L - 3 sigma_L,  hi = mu_L + 3 sigma_L
    dbsf(d) = sum_L w_L * clip((s_L(d) - lo) / (hi - lo), 0, 1)

Normalisation (per list, over all of that list's hits)
-------------------------------------------------------
* ``minmax``: ``(s - min) / (max - min)``; a list whose scores are all equal (including a list
  with a single hit) maps every hit to 1.0 -- a lone hit is that list's best, not its worst.
* ``zscore``: ``(s - mean) / std`` with the population standard deviation. A constant list
  (including a single hit) maps every hit to 0.0, the list's average. Note that a document absent
  from a list also contributes 0.0 there, so with z-scores "absent" counts as "average"; that is
  the price of a zero-centred scale, and the reason min-max is the default.
* ``none``: raw retriever scores (only meaningful if all retrievers share one scale).
* DBSF uses the population ``sigma`` as well (Qdrant uses the sample one, so its numbers differ
  slightly for short lists); a constant list (including a single hit) maps to 0.5, the limit of
  the formula for ``s = mu``.

Score-based methods reject NaN and infinite scores with :class:`ValueError`.

Conventions shared by all methods
---------------------------------
* **Dedup key**: ``dedup="chunk"`` fuses on ``chunk.chunk_id``, ``dedup="document"`` on
  ``chunk.doc_id``.
* **Within-list duplicates** (the same key twice in one list, e.g. two chunks of one document
  with ``dedup="document"``) count once per list, at their first occurrence. Ranks are positions
  in the *original* list: the rank of a hit is ``index + 1`` whatever duplicates precede it, so a
  duplicate never promotes the hits after it. For score methods the first occurrence's score is
  used; normalisation statistics are computed over all hits of the list, duplicates included, so
  a normalised score does not depend on the dedup key.
* **Zero weights**: a list with weight 0 adds nothing to any score and does not count for
  CombMNZ. A key found only in zero-weight lists is left out of the result; a key that also
  appears in a weighted list lists the zero-weight occurrences in its provenance too.
* **Kept copy**: the fused hit carries the chunk of the copy with the best single contribution
  (``w_L / (k + rank)`` for RRF, ``w_L * norm(s)`` for score methods); ties go to the earliest
  list in input order.
* **Provenance**: one :class:`~ragfusion.types.Provenance` per occurrence in every list
  (within-list duplicates and zero-weight lists included), holding the list's query and retriever,
  the 1-based rank and the original retriever score, ordered by (rank, list order).
* **Order**: fused score descending, then best (smallest) rank among the counted occurrences,
  then the dedup key ascending. Per-key contributions are summed with :func:`math.fsum`, which is
  exact and order-independent, so permuting the input lists (with their weights) never changes
  the ranking. ``limit`` truncates after sorting.
* Weights (``RankedList.weight`` and ``retriever_weights`` values) must be finite and >= 0, and
  ``k`` finite and > 0; otherwise :class:`ValueError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from ragfusion.retrieval.fusion_accumulate import (
    _accumulate,
    _check_dedup,
    _check_limit,
    _finite_scores,
    _list_weights,
)
from ragfusion.retrieval.fusion_scores import _dbsf_norm, _Normalizer, _normalizer
from ragfusion.types import Hit, RankedList

__all__ = [
    "DEFAULT_RRF_K",
    "FUSION_METHODS",
    "DedupKey",
    "Normalization",
    "comb_mnz",
    "comb_sum",
    "convex",
    "dbsf",
    "fuse",
    "rrf",
]

DedupKey = Literal["chunk", "document"]
Normalization = Literal["minmax", "zscore", "none"]

DEFAULT_RRF_K = 60
"""The RRF constant of Cormack et al. (2009)."""


def _score_fusion(
    lists: Sequence[RankedList],
    normalize: _Normalizer,
    weights: list[float],
    *,
    dedup: str,
    limit: int | None,
    multiply_by_count: bool = False,
) -> list[Hit]:
    by_document = _check_dedup(dedup)
    _check_limit(limit)
    contributions: list[list[float]] = []
    for scores, weight in zip(_finite_scores(lists), weights, strict=False):
        if weight > 0.0 and scores:
            contributions.append([weight * x for x in normalize(scores)])
        else:
            contributions.append([])
    return _accumulate(
        lists,
        weights,
        contributions,
        by_document=by_document,
        limit=limit,
        multiply_by_count=multiply_by_count,
    )


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def rrf(
    lists: Sequence[RankedList],
    *,
    k: float = DEFAULT_RRF_K,
    retriever_weights: Mapping[str, float] | None = None,
    dedup: DedupKey = "chunk",
    limit: int | None = None,
) -> list[Hit]:
    """Weighted Reciprocal Rank Fusion: ``score(d) = sum_L w_L / (k + rank_L(d))``.

    Ranks are 1-based (the top hit adds ``w / (k + 1)``); a document absent from a list adds 0
    for it. A key repeated within one list counts once, at its first occurrence, whose rank is
    its position in the original list (``index + 1``). Scores of the input hits are not used,
    only copied into provenance. See the module docstring for weights, tie-breaks, the kept copy
    and provenance.

    Raises:
        ValueError: if ``k`` is not finite and > 0, a weight is negative or not finite,
            ``dedup`` is unknown or ``limit`` is negative.
    """
    k = float(k)
    if not (math.isfinite(k) and k > 0.0):
        raise ValueError(f"RRF k must be a finite number > 0, got {k!r}")
    by_document = _check_dedup(dedup)
    _check_limit(limit)
    weights = _list_weights(lists, retriever_weights)
    contributions = [
        [weight / (k + rank) for rank in range(1, len(lst.hits) + 1)] if weight > 0.0 else []
        for lst, weight in zip(lists, weights, strict=False)
    ]
    return _accumulate(lists, weights, contributions, by_document=by_document, limit=limit)


def comb_sum(
    lists: Sequence[RankedList],
    *,
    normalization: Normalization = "minmax",
    retriever_weights: Mapping[str, float] | None = None,
    dedup: DedupKey = "chunk",
    limit: int | None = None,
) -> list[Hit]:
    """CombSUM (Fox & Shaw 1994): ``score(d) = sum_L w_L * norm_L(s_L(d))``.

    Raises:
        ValueError: on a NaN or infinite score, a bad weight, an unknown ``normalization`` or
            ``dedup``, or a negative ``limit``.
    """
    normalize = _normalizer(normalization)
    weights = _list_weights(lists, retriever_weights)
    return _score_fusion(lists, normalize, weights, dedup=dedup, limit=limit)


def comb_mnz(
    lists: Sequence[RankedList],
    *,
    normalization: Normalization = "minmax",
    retriever_weights: Mapping[str, float] | None = None,
    dedup: DedupKey = "chunk",
    limit: int | None = None,
) -> list[Hit]:
    """CombMNZ (Fox & Shaw 1994): CombSUM times the number of weighted lists containing ``d``.

    Raises:
        ValueError: as :func:`comb_sum`.
    """
    normalize = _normalizer(normalization)
    weights = _list_weights(lists, retriever_weights)
    return _score_fusion(
        lists, normalize, weights, dedup=dedup, limit=limit, multiply_by_count=True
    )


def convex(
    lists: Sequence[RankedList],
    *,
    retriever_weights: Mapping[str, float] | None = None,
    normalization: Normalization = "minmax",
    dedup: DedupKey = "chunk",
    limit: int | None = None,
) -> list[Hit]:
    """Convex combination (Bruch, Gai & Ingber, TOIS 2023): ``sum_L a_L * norm_L(s_L(d))``.

    ``a_L = w_L / sum(w_L')`` over the non-empty lists, so the weights sum to 1 and only their
    ratios matter; with min-max normalisation every fused score lies in [0, 1].

    Raises:
        ValueError: as :func:`comb_sum`.
    """
    normalize = _normalizer(normalization)
    weights = _list_weights(lists, retriever_weights)
    total = math.fsum(weight for lst, weight in zip(lists, weights, strict=False) if lst.hits)
    if total > 0.0:
        # A positive weight stays positive (a tiny one can underflow to 0 when divided), so
        # that list's documents are still fused, as with every other method.
        tiny = math.nextafter(0.0, 1.0)
        weights = [max(weight / total, tiny) if weight > 0.0 else 0.0 for weight in weights]
    return _score_fusion(lists, normalize, weights, dedup=dedup, limit=limit)


def dbsf(
    lists: Sequence[RankedList],
    *,
    retriever_weights: Mapping[str, float] | None = None,
    dedup: DedupKey = "chunk",
    limit: int | None = None,
) -> list[Hit]:
    """Distribution-based score fusion (Mazzeschi 2023), ``sum_L w_L * dbsf_L(s_L(d))``.

    Per list, ``dbsf_L(s) = clip((s - (mu - 3 sigma)) / (6 sigma), 0, 1)`` with the population
    ``sigma``; a constant or single-hit list maps to 0.5.

    Raises:
        ValueError: on a NaN or infinite score, a bad weight, an unknown ``dedup`` or a
            negative ``limit``.
    """
    weights = _list_weights(lists, retriever_weights)
    return _score_fusion(lists, _dbsf_norm, weights, dedup=dedup, limit=limit)


FUSION_METHODS: dict[str, Callable[..., list[Hit]]] = {
    "rrf": rrf,
    "combsum": comb_sum,
    "combmnz": comb_mnz,
    "convex": convex,
    "dbsf": dbsf,
}
"""Fusion functions by the name used in configuration files and :func:`fuse`."""


def fuse(method: str, lists: Sequence[RankedList], **options: object) -> list[Hit]:
    """Fuse ``lists`` with the method named ``method`` (a key of :data:`FUSION_METHODS`).

    ``options`` are passed on as keyword arguments (e.g. ``k=60``, ``limit=10``).

    Raises:
        ValueError: if ``method`` is not a known method name, or as the chosen method.
    """
    try:
        function = FUSION_METHODS[method]
    except KeyError:
        raise ValueError(
            f"unknown fusion method {method!r}; valid methods: {', '.join(FUSION_METHODS)}"
        ) from None
    return function(lists, **options)
