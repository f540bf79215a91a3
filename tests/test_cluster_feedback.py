"""Cluster feedback after fusion: hand-computed cases and properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragfusion.retrieval.cluster_feedback import cluster_feedback, feedback_candidates
from ragfusion.types import Chunk, Hit


def hit(name: str, score: float) -> Hit:
    chunk = Chunk(name, "doc-" + name, name, "txt", 0, 0, 1, "", name)
    return Hit(chunk=chunk, score=score)


def test_hand_computed_example() -> None:
    # a and b point the same way, c is orthogonal to both, d is close to a and b but ranked low
    hits = [hit("a", 1.0), hit("c", 0.9), hit("b", 0.8), hit("d", 0.1)]
    vectors = {
        "a": np.array([1.0, 0.0]),
        "b": np.array([1.0, 0.0]),
        "c": np.array([0.0, 1.0]),
        "d": np.array([3.0, 4.0]),  # not unit length: cosine 0.6 with a/b, 0.8 with c
    }
    out = cluster_feedback(hits, vectors, weight=0.5, neighbours=1, top=3)
    # pool = a, c, b (the 3 best). Nearest other member: a->b (1.0), c->a (cos 0, tie kept in
    # pool order, weight 0: nothing to pull), b->a, d->c (0.8).
    expected = {
        "a": 0.5 * 1.0 + 0.5 * 0.8,  # 0.9
        "c": 0.9,  # its only neighbour has similarity 0: keeps its score
        "b": 0.5 * 0.8 + 0.5 * 1.0,  # 0.9
        "d": 0.5 * 0.1 + 0.5 * 0.9,  # 0.5
    }
    assert [h.chunk_id for h in out] == ["a", "c", "b", "d"]  # ties keep the fused order
    assert {h.chunk_id: h.score for h in out} == pytest.approx(expected)


def test_two_neighbours_are_similarity_weighted() -> None:
    hits = [hit("a", 1.0), hit("b", 0.5), hit("c", 0.2)]
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.6, 0.8]), "c": np.array([0.8, 0.6])}
    out = {
        h.chunk_id: h.score
        for h in cluster_feedback(hits, vectors, weight=1.0, neighbours=2, top=3)
    }
    # a: neighbours b (0.6) and c (0.8) -> (0.6*0.5 + 0.8*0.2) / 1.4
    assert out["a"] == pytest.approx((0.6 * 0.5 + 0.8 * 0.2) / 1.4)
    # c: neighbours a (0.8) and b (0.96)
    assert out["c"] == pytest.approx((0.8 * 1.0 + 0.96 * 0.5) / 1.76)


def test_a_low_hit_like_the_best_ones_is_lifted_above_an_outlier() -> None:
    hits = [hit("a", 1.0), hit("b", 0.9), hit("odd", 0.6), hit("z", 0.55), hit("like_a", 0.5)]
    vectors = {
        "a": np.array([1.0, 0.1]),
        "b": np.array([1.0, 0.0]),
        "odd": np.array([0.0, 1.0]),
        "z": np.array([0.1, 1.0]),  # the outlier's only close neighbour ranks low
        "like_a": np.array([1.0, 0.05]),
    }
    out = {
        h.chunk_id: h.score
        for h in cluster_feedback(hits, vectors, weight=0.5, neighbours=1, top=4)
    }
    assert out["like_a"] == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)  # nearest is a
    assert out["odd"] == pytest.approx(0.5 * 0.6 + 0.5 * 0.55)  # nearest is z
    assert out["like_a"] > out["odd"]


def test_hits_without_vectors_keep_their_score_and_are_no_neighbours() -> None:
    hits = [hit("a", 1.0), hit("ghost", 0.95), hit("b", 0.3)]
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0])}
    out = {
        h.chunk_id: h.score
        for h in cluster_feedback(hits, vectors, weight=0.5, neighbours=1, top=2)
    }
    assert out["ghost"] == 0.95
    assert out["a"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.3)  # pool is a and b, not the ghost


def test_fewer_neighbours_than_asked_for_weigh_less() -> None:
    # Two candidates: with the full weight 0.6 each would take 60% of the other's score and
    # they would swap places. One neighbour of the 15 asked for gives 1/15 of the weight.
    hits = [hit("a", 1.0), hit("b", 0.0)]
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0])}
    out = cluster_feedback(hits, vectors, weight=0.6, neighbours=15, top=50)
    assert [h.chunk_id for h in out] == ["a", "b"]
    weight = 0.6 / 15
    assert out[0].score == pytest.approx(1.0 - weight)
    assert out[1].score == pytest.approx(weight)


@pytest.mark.parametrize(
    ("weight", "neighbours", "top"), [(0.0, 5, 10), (0.5, 0, 10), (0.5, 5, 1), (0.5, 5, 0)]
)
def test_nothing_to_do_returns_the_input(weight: float, neighbours: int, top: int) -> None:
    hits = [hit("a", 1.0), hit("b", 0.5)]
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    assert cluster_feedback(hits, vectors, weight=weight, neighbours=neighbours, top=top) == hits


def test_empty_and_invalid() -> None:
    assert cluster_feedback([], {}, weight=0.5, neighbours=5, top=10) == []
    with pytest.raises(ValueError, match="weight"):
        cluster_feedback([], {}, weight=1.5, neighbours=5, top=10)
    with pytest.raises(ValueError, match=">= 0"):
        cluster_feedback([], {}, weight=0.5, neighbours=-1, top=10)


scores = st.lists(st.floats(0.0, 2.0, allow_nan=False), min_size=1, max_size=30)


@given(
    scores, st.integers(0, 2**32 - 1), st.floats(0.0, 1.0), st.integers(1, 6), st.integers(2, 12)
)
def test_properties(
    values: list[float], seed: int, weight: float, neighbours: int, top: int
) -> None:
    hits = [hit(f"h{i}", s) for i, s in enumerate(sorted(values, reverse=True))]
    rng = np.random.default_rng(seed)
    vectors = {h.chunk_id: rng.normal(size=4) for h in hits}
    out = cluster_feedback(hits, vectors, weight=weight, neighbours=neighbours, top=top)
    # a permutation of the same hits, sorted by the new score, with provenance untouched
    assert sorted(h.chunk_id for h in out) == sorted(h.chunk_id for h in hits)
    assert all(a.score >= b.score for a, b in itertools.pairwise(out))
    # every new score lies between the hit's own score and the pool's range (a convex mix)
    low, high = min(values), max(values)
    own = {h.chunk_id: h.score for h in hits}
    for h in out:
        assert min(low, own[h.chunk_id]) - 1e-9 <= h.score <= max(high, own[h.chunk_id]) + 1e-9


def test_limit_returns_the_best_of_the_full_reordering() -> None:
    rng = np.random.default_rng(3)
    hits = [hit(f"h{i}", 1.0 - i / 20) for i in range(20)]
    vectors = {h.chunk_id: rng.normal(size=8) for h in hits}
    full = cluster_feedback(hits, vectors, weight=0.5, neighbours=3, top=6)
    assert cluster_feedback(hits, vectors, weight=0.5, neighbours=3, top=6, limit=4) == full[:4]
    assert cluster_feedback(hits, vectors, weight=0.0, neighbours=3, top=6, limit=4) == hits[:4]


@given(
    st.lists(st.floats(0.0, 2.0, allow_nan=False), min_size=1, max_size=40),
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 1.0),
    st.integers(1, 6),
    st.integers(2, 12),
    st.integers(1, 15),
)
def test_pruned_candidates_give_the_same_top(
    values: list[float], seed: int, weight: float, neighbours: int, top: int, limit: int
) -> None:
    hits = [hit(f"h{i}", s) for i, s in enumerate(sorted(values, reverse=True))]
    rng = np.random.default_rng(seed)
    vectors = {h.chunk_id: rng.normal(size=4) for h in hits}
    options = {"weight": weight, "neighbours": neighbours, "top": top, "limit": limit}
    kept = feedback_candidates(hits, weight=weight, top=top, limit=limit)
    full = cluster_feedback(hits, vectors, **options)  # type: ignore[arg-type]
    pruned = cluster_feedback(kept, vectors, **options)  # type: ignore[arg-type]
    assert [h.chunk_id for h in pruned] == [h.chunk_id for h in full]
    assert [h.score for h in pruned] == pytest.approx([h.score for h in full])


def test_pruning_drops_hits_that_cannot_reach_the_top() -> None:
    hits = [hit(f"h{i}", s) for i, s in enumerate([2.0, 1.9, 1.8, 0.3, 0.1])]
    kept = feedback_candidates(hits, weight=0.5, top=3, limit=2)
    # 2nd best lower bound: 0.5 * 1.9 + 0.5 * 1.8 = 1.85; h3 can reach 0.15 + 1.0 = 1.15 at most
    assert [h.chunk_id for h in kept] == ["h0", "h1", "h2"]
    assert feedback_candidates(hits, weight=0.5, top=3, limit=None) == hits
    assert feedback_candidates(hits, weight=0.0, top=3, limit=2) == hits
