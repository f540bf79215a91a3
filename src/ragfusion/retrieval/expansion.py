"""Pseudo-relevance feedback: expand a query with terms from its top BM25 hits (RM3).

RM1 (Lavrenko & Croft 2001) estimates a relevance model from the feedback passages,
``P(t|R) = sum_d P(t|d) * P(d|q)``, with ``P(t|d) = tf(t, d) / |d|`` and ``P(d|q)`` the
passage's BM25 score normalised over the feedback set. RM3 (Abdul-Jaleel et al. 2004)
interpolates it with the original query: ``w(t) = lambda * P(t|q) + (1 - lambda) * P(t|R)``,
keeping the ``n_terms`` strongest feedback terms. No LLM is needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

DEFAULT_FEEDBACK_DOCS = 10
DEFAULT_EXPANSION_TERMS = 10
DEFAULT_ORIGINAL_WEIGHT = 0.5


def rm3_weights(
    query_terms: Sequence[str],
    feedback: Sequence[tuple[Sequence[str], float]],
    *,
    n_terms: int = DEFAULT_EXPANSION_TERMS,
    original_weight: float = DEFAULT_ORIGINAL_WEIGHT,
) -> dict[str, float]:
    """Term weights of the expanded query (summing to 1), from analysed query terms and
    (analysed passage terms, retrieval score) pairs for the feedback passages."""
    if not 0.0 <= original_weight <= 1.0:
        raise ValueError(f"original_weight must be in [0, 1], got {original_weight}")
    original = Counter(t for t in query_terms if len(t) > 1)
    scores = [max(score, 0.0) for _, score in feedback]
    total_score = sum(scores)
    relevance: dict[str, float] = {}
    if total_score > 0:
        for (terms, _), score in zip(feedback, scores, strict=True):
            if not terms or score == 0:
                continue
            share = score / total_score / len(terms)
            for term, tf in Counter(t for t in terms if len(t) > 1).items():
                relevance[term] = relevance.get(term, 0.0) + tf * share
    top = dict(sorted(relevance.items(), key=lambda item: (-item[1], item[0]))[:n_terms])
    top_total = sum(top.values())
    query_total = sum(original.values())
    weights: dict[str, float] = {}
    if query_total:
        lam = original_weight if top_total else 1.0
        for term, tf in original.items():
            weights[term] = weights.get(term, 0.0) + lam * tf / query_total
    if top_total:
        lam = original_weight if query_total else 0.0
        for term, value in top.items():
            weights[term] = weights.get(term, 0.0) + (1.0 - lam) * value / top_total
    return weights
