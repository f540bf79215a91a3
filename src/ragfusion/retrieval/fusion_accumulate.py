"""Argument checks and the shared accumulator that sums contributions into fused hits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ragfusion.types import Chunk, Hit, Provenance, RankedList

_DEDUP_KEYS: tuple[str, ...] = ("chunk", "document")


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _check_weight(value: float, what: str) -> float:
    weight = float(value)
    if not math.isfinite(weight) or weight < 0.0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return weight


def _list_weights(
    lists: Sequence[RankedList], retriever_weights: Mapping[str, float] | None
) -> list[float]:
    """Effective weight of each list: per-query weight times per-retriever weight."""
    per_retriever = {
        name: _check_weight(value, f"retriever_weights[{name!r}]")
        for name, value in (retriever_weights or {}).items()
    }
    weights = []
    for i, lst in enumerate(lists):
        own = _check_weight(lst.weight, f"weight of list {i} ({lst.retriever!r}, {lst.query!r})")
        weight = own * per_retriever.get(lst.retriever, 1.0)
        if not math.isfinite(weight):
            raise ValueError(
                f"weight of list {i} ({lst.retriever!r}, {lst.query!r}) overflows: "
                f"{own!r} * {per_retriever[lst.retriever]!r}"
            )
        weights.append(weight)
    return weights


def _check_dedup(dedup: str) -> bool:
    """Return True when fusing on document ids."""
    if dedup not in _DEDUP_KEYS:
        raise ValueError(f"dedup must be one of {', '.join(_DEDUP_KEYS)}; got {dedup!r}")
    return dedup == "document"


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit!r}")


def _finite_scores(lists: Sequence[RankedList]) -> list[list[float]]:
    """The scores of each list, after checking that every one of them is finite."""
    all_scores = []
    for i, lst in enumerate(lists):
        scores = [hit.score for hit in lst.hits]
        if not all(map(math.isfinite, scores)):
            rank = next(r for r, s in enumerate(scores, start=1) if not math.isfinite(s))
            raise ValueError(
                f"score-based fusion needs finite scores, but list {i} "
                f"(retriever {lst.retriever!r}, query {lst.query!r}) has score "
                f"{scores[rank - 1]!r} at rank {rank} "
                f"(chunk {lst.hits[rank - 1].chunk.chunk_id!r}); "
                "fix the retriever or use rrf, which only uses ranks"
            )
        all_scores.append(scores)
    return all_scores


# ---------------------------------------------------------------------------------------------
# The shared accumulator
# ---------------------------------------------------------------------------------------------


class _Entry:
    """Running state of one dedup key: one contribution per weighted list containing it."""

    __slots__ = ("best", "best_rank", "chunk", "parts")

    def __init__(self, part: float, chunk: Chunk, rank: int) -> None:
        self.parts = [part]
        self.best = part
        self.chunk = chunk
        self.best_rank = rank


def _accumulate(
    lists: Sequence[RankedList],
    weights: Sequence[float],
    contributions: Sequence[Sequence[float]],
    *,
    by_document: bool,
    limit: int | None,
    multiply_by_count: bool = False,
) -> list[Hit]:
    """Sum per-list contributions by dedup key and build the fused, sorted hits.

    ``contributions[i][j]`` is what hit ``j`` of list ``i`` adds to its key (already weighted);
    it is only read for lists with a positive weight, and only at the first occurrence of a key
    in that list. Every method goes through here, so dedup, tie-breaks, the kept copy and
    provenance behave the same for all of them.
    """
    entries: dict[str, _Entry] = {}
    list_keys: list[list[str]] = []
    for li, lst in enumerate(lists):
        hits = lst.hits
        if by_document:
            keys = [hit.chunk.doc_id for hit in hits]
        else:
            keys = [hit.chunk.chunk_id for hit in hits]
        list_keys.append(keys)
        if weights[li] <= 0.0:
            continue
        parts = contributions[li]
        # key -> index of its first occurrence: later duplicates are overwritten by earlier ones.
        first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=False))
        for key, index in first.items():
            part = parts[index]
            entry = entries.get(key)
            if entry is None:
                entries[key] = _Entry(part, hits[index].chunk, index + 1)
                continue
            entry.parts.append(part)
            if part > entry.best:  # strict: a tie keeps the earliest list's copy
                entry.best = part
                entry.chunk = hits[index].chunk
            if index < entry.best_rank - 1:  # i.e. rank < best_rank; min() is slower
                entry.best_rank = index + 1

    ranked: list[tuple[float, int, str, _Entry]] = []
    for key, entry in entries.items():
        score = math.fsum(entry.parts)
        if multiply_by_count:
            score *= len(entry.parts)
        ranked.append((-score, entry.best_rank, key, entry))
    ranked.sort()  # keys are unique, so the entries themselves are never compared
    if limit is not None:
        del ranked[limit:]

    # Provenance only for the keys we return: (rank, list index) of every occurrence.
    found: dict[str, list[tuple[int, int]]] = {key: [] for _, _, key, _ in ranked}
    for li, keys in enumerate(list_keys):
        for index, key in enumerate(keys):
            where = found.get(key)
            if where is not None:
                where.append((index + 1, li))
    sources = [(lst.query, lst.retriever, lst.hits) for lst in lists]
    fused = []
    for neg_score, _, key, entry in ranked:
        where = found[key]
        where.sort()
        provenance = []
        for rank, li in where:
            query, retriever, hits = sources[li]
            provenance.append(Provenance(query, retriever, rank, hits[rank - 1].score))
        fused.append(Hit(entry.chunk, 0.0 - neg_score, tuple(provenance)))
    return fused
