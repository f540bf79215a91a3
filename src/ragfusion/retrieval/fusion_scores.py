"""Per-list score normalisation for the score-based fusion methods (min-max, z-score, DBSF)."""

from __future__ import annotations

import math
from collections.abc import Callable

_DBSF_SIGMAS = 3.0
"""DBSF maps ``[mu - 3 sigma, mu + 3 sigma]`` onto ``[0, 1]``."""
_DBSF_CONSTANT = 0.5
"""DBSF value of every hit of a constant (or single-hit) list: the formula's value at the mean."""

_NORMALIZATIONS: tuple[str, ...] = ("minmax", "zscore", "none")

_Normalizer = Callable[[list[float]], list[float]]


def _minmax(scores: list[float]) -> list[float]:
    lo, hi = min(scores), max(scores)
    if lo == hi:
        return [1.0] * len(scores)
    span = hi - lo
    if not math.isfinite(span):
        raise ValueError(f"scores span too wide to min-max normalise: [{lo!r}, {hi!r}]")
    return [(s - lo) / span for s in scores]


def _mean_std(scores: list[float]) -> tuple[float, float]:
    """Mean and population standard deviation."""
    n = len(scores)
    mean = math.fsum(scores) / n
    std = math.sqrt(math.fsum([(s - mean) * (s - mean) for s in scores]) / n)
    if not math.isfinite(std):
        raise ValueError("scores too large to compute their standard deviation")
    return mean, std


def _zscore(scores: list[float]) -> list[float]:
    # Test for a constant list directly: the rounded mean of equal values may differ from them
    # by an ulp, which would turn a constant list into +-1 instead of 0.
    if min(scores) == max(scores):
        return [0.0] * len(scores)
    mean, std = _mean_std(scores)
    if std == 0.0:  # differences so small that their squares underflow: constant after all
        return [0.0] * len(scores)
    return [(s - mean) / std for s in scores]


def _dbsf_norm(scores: list[float]) -> list[float]:
    if min(scores) == max(scores):
        return [_DBSF_CONSTANT] * len(scores)
    mean, std = _mean_std(scores)
    if std == 0.0:  # see _zscore
        return [_DBSF_CONSTANT] * len(scores)
    lo = mean - _DBSF_SIGMAS * std
    span = 2.0 * _DBSF_SIGMAS * std
    scaled = [(s - lo) / span for s in scores]
    return [min(max(v, 0.0), 1.0) for v in scaled]


def _identity(scores: list[float]) -> list[float]:
    return scores


_NORMALIZERS: dict[str, _Normalizer] = {
    "minmax": _minmax,
    "zscore": _zscore,
    "none": _identity,
}


def _normalizer(normalization: str) -> _Normalizer:
    try:
        return _NORMALIZERS[normalization]
    except KeyError:
        raise ValueError(
            f"normalization must be one of {', '.join(_NORMALIZATIONS)}; got {normalization!r}"
        ) from None
