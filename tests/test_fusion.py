"""Tests for ragfusion.retrieval.fusion: hand-computed cases first, then hypothesis properties."""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragfusion.retrieval.fusion import (
    DEFAULT_RRF_K,
    FUSION_METHODS,
    DedupKey,
    Normalization,
    comb_mnz,
    comb_sum,
    convex,
    dbsf,
    fuse,
    rrf,
)
from ragfusion.types import Chunk, Hit, Provenance, RankedList

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

Item = str | tuple[str, float] | tuple[str, str, float]


def chunk(chunk_id: str, doc_id: str | None = None) -> Chunk:
    doc = doc_id if doc_id is not None else f"doc-{chunk_id}"
    return Chunk(
        chunk_id=chunk_id,
        doc_id=doc,
        source=f"{doc}.md",
        file_type="md",
        ordinal=0,
        start=0,
        end=len(chunk_id),
        heading=f"heading of {chunk_id}",
        text=chunk_id,
    )


def ranked(
    items: Sequence[Item], *, retriever: str = "bm25", query: str = "q", weight: float = 1.0
) -> RankedList:
    """A ranked list from ``"id"``, ``("id", score)`` or ``("id", "doc", score)`` items.

    Bare ids get descending scores 1.0, 0.9, ... so score methods see a sensible list.
    """
    hits = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            hits.append(Hit(chunk(item), 1.0 - 0.1 * i))
        elif len(item) == 2:
            hits.append(Hit(chunk(item[0]), item[1]))
        else:
            hits.append(Hit(chunk(item[0], item[1]), item[2]))
    return RankedList(query=query, retriever=retriever, hits=tuple(hits), weight=weight)


def ids(hits: Sequence[Hit]) -> list[str]:
    return [hit.chunk_id for hit in hits]


def scores(hits: Sequence[Hit]) -> dict[str, float]:
    return {hit.chunk_id: hit.score for hit in hits}


Method = Callable[..., list[Hit]]
ALL_METHODS: list[Method] = [rrf, comb_sum, comb_mnz, convex, dbsf]
SCORE_METHODS: list[Method] = [comb_sum, comb_mnz, convex, dbsf]


# ---------------------------------------------------------------------------------------------
# RRF, hand-computed
# ---------------------------------------------------------------------------------------------


def test_rrf_two_lists_exact_scores() -> None:
    fused = rrf([ranked(["a", "b", "c"]), ranked(["b", "d"], retriever="dense")])
    assert ids(fused) == ["b", "a", "d", "c"]
    assert scores(fused) == {
        "b": pytest.approx(1 / 62 + 1 / 61),
        "a": pytest.approx(1 / 61),
        "d": pytest.approx(1 / 62),
        "c": pytest.approx(1 / 63),
    }


def test_rrf_default_k_is_60_and_ranks_are_one_based() -> None:
    assert DEFAULT_RRF_K == 60
    [top] = rrf([ranked(["a"])])
    assert top.score == pytest.approx(1 / 61)
    assert top.score != pytest.approx(1 / 60)


def test_rrf_absent_document_contributes_zero() -> None:
    fused = rrf([ranked(["a", "b", "c"]), ranked(["x", "y", "only2"], retriever="dense")])
    # "only2" is at rank 3 of the second list and missing from the first: exactly 1/(60+3).
    assert scores(fused)["only2"] == pytest.approx(1 / 63, rel=1e-12)
    assert scores(fused)["c"] == pytest.approx(1 / 63, rel=1e-12)


def test_rrf_custom_k() -> None:
    fused = rrf([ranked(["a", "b"]), ranked(["b", "a"], retriever="dense")], k=1)
    assert scores(fused) == {"a": pytest.approx(1 / 2 + 1 / 3), "b": pytest.approx(1 / 3 + 1 / 2)}
    fused = rrf([ranked(["a", "b", "c"])], k=0.5)
    assert [h.score for h in fused] == pytest.approx([1 / 1.5, 1 / 2.5, 1 / 3.5])


def test_rrf_per_query_weight() -> None:
    fused = rrf([ranked(["a"], weight=2.0), ranked(["b"], query="rewrite", weight=0.5)])
    assert scores(fused) == {"a": pytest.approx(2 / 61), "b": pytest.approx(0.5 / 61)}


def test_rrf_per_retriever_weight() -> None:
    lists = [ranked(["a", "b"], retriever="bm25"), ranked(["b", "a"], retriever="dense")]
    fused = rrf(lists, retriever_weights={"dense": 3.0})
    assert scores(fused) == {
        "a": pytest.approx(1 / 61 + 3 / 62),
        "b": pytest.approx(1 / 62 + 3 / 61),
    }
    assert ids(fused) == ["b", "a"]


def test_rrf_query_and_retriever_weights_multiply() -> None:
    lists = [
        ranked(["a"], retriever="dense", query="q1", weight=2.0),
        ranked(["a"], retriever="bm25", query="q2", weight=0.5),
    ]
    fused = rrf(lists, retriever_weights={"dense": 3.0, "unused": 100.0})
    # dense list: 2 * 3 = 6; bm25 list: 0.5 * default 1.0.
    assert fused[0].score == pytest.approx(6 / 61 + 0.5 / 61)


def test_rrf_zero_weight_list_contributes_nothing_but_keeps_provenance() -> None:
    lists = [
        ranked(["a", "b"], retriever="bm25"),
        ranked(["b", "z"], retriever="dense", weight=0.0),
    ]
    fused = rrf(lists)
    assert ids(fused) == ["a", "b"]  # "z" only in a zero-weight list: left out
    assert scores(fused)["b"] == pytest.approx(1 / 62)
    assert [p.retriever for p in fused[1].provenance] == ["dense", "bm25"]
    # The same via a per-retriever weight of 0.
    assert scores(
        rrf([*lists[:1], ranked(["b", "z"], retriever="dense")], retriever_weights={"dense": 0.0})
    ) == scores(fused)


def test_limit_truncates_after_sorting() -> None:
    lists = [ranked(["a", "b", "c", "d"]), ranked(["d", "c"], retriever="dense")]
    full = rrf(lists)
    assert ids(full) == ["d", "c", "a", "b"]
    assert rrf(lists, limit=2) == full[:2]
    assert rrf(lists, limit=0) == []
    assert rrf(lists, limit=10) == full
    with pytest.raises(ValueError, match="limit"):
        rrf(lists, limit=-1)


def test_tie_break_by_key_when_score_and_best_rank_tie() -> None:
    # z: ranks (1, 3), m: ranks (3, 1) -> both 1/61 + 1/63 with best rank 1; "m" < "z".
    lists = [ranked(["z", "x", "m"]), ranked(["m", "y", "z"], retriever="dense")]
    fused = rrf(lists)
    assert fused[0].score == fused[1].score
    assert ids(fused)[:2] == ["m", "z"]
    # Same answer whichever list comes first.
    assert ids(rrf(lists[::-1]))[:2] == ["m", "z"]


def test_tie_break_by_best_rank_before_key() -> None:
    # k=1: "b" and "p" at rank 1 -> 1/2; "a" at ranks 2 and 5 -> 1/3 + 1/6 = 1/2.
    lists = [ranked(["b", "a"]), ranked(["p", "q", "r", "s", "a"], retriever="dense")]
    fused = rrf(lists, k=1)
    by_id = scores(fused)
    assert by_id["a"] == by_id["b"] == by_id["p"] == 0.5
    # All tie on score; "a" sorts first by key but its best rank is 2, not 1.
    assert ids(fused)[:3] == ["b", "p", "a"]


def test_equal_sums_tie_exactly_whatever_the_addition_order() -> None:
    # m has ranks (1, 7, 2) and z ranks (2, 1, 7): the same three terms. Naive left-to-right
    # float addition gives z one ulp more; the fused scores must tie exactly so that the
    # documented tie-break (key "m" < "z") decides, in any list order.
    lists = [
        ranked(["m", "z"]),
        ranked(["z", "f1", "f2", "f3", "f4", "f5", "m"], retriever="dense"),
        ranked(["g1", "m", "g3", "g4", "g5", "g6", "z"], query="q2"),
    ]
    for order in itertools.permutations(lists):
        fused = rrf(list(order))
        assert ids(fused)[:2] == ["m", "z"]
        assert fused[0].score == fused[1].score == pytest.approx(1 / 61 + 1 / 62 + 1 / 67)


def test_dedup_document_counts_within_list_duplicates_once() -> None:
    lists = [
        ranked([("c1", "D", 0.9), ("c2", "D", 0.8), ("e1", "E", 0.7)]),
        ranked([("c2", "D", 0.95)], retriever="dense"),
    ]
    fused = rrf(lists, dedup="document")
    assert [h.doc_id for h in fused] == ["D", "E"]
    # D: rank 1 in list 1 (its second chunk is ignored), rank 1 in list 2.
    assert fused[0].score == pytest.approx(2 / 61)
    # E keeps its original position (3), not 2 after removing the duplicate.
    assert fused[1].score == pytest.approx(1 / 63)
    # Without document dedup the chunks are separate.
    assert scores(rrf(lists)) == {
        "c2": pytest.approx(1 / 62 + 1 / 61),
        "c1": pytest.approx(1 / 61),
        "e1": pytest.approx(1 / 63),
    }


def test_dedup_chunk_counts_repeated_chunk_once_per_list() -> None:
    fused = rrf([ranked(["a", "a", "b"])])
    assert scores(fused) == {"a": pytest.approx(1 / 61), "b": pytest.approx(1 / 63)}
    assert [p.rank for p in fused[0].provenance] == [1, 2]


def test_dedup_document_keeps_best_scoring_copy() -> None:
    # c2's copy in the dense list contributes 3/61 > 1/61: its metadata wins.
    lists = [
        ranked([("c1", "D", 0.9), ("c2", "D", 0.8)]),
        ranked([("c2", "D", 0.95)], retriever="dense"),
    ]
    [hit] = rrf(lists, dedup="document", retriever_weights={"dense": 3.0})
    assert hit.chunk == chunk("c2", "D")
    # Equal contributions: the earliest list's copy wins.
    [hit] = rrf(lists, dedup="document")
    assert hit.chunk == chunk("c1", "D")
    # The best copy is chosen by contribution, not by list order: x (rank 2 of the first list,
    # 1/62) loses to c9 (rank 1 of the second list, 1/61).
    lists2 = [
        ranked([("e", "E", 1.0), ("x", "D", 0.9)]),
        ranked([("c9", "D", 1.0)], retriever="dense"),
    ]
    by_doc = {h.doc_id: h for h in rrf(lists2, dedup="document")}
    assert by_doc["D"].chunk_id == "c9"
    assert by_doc["D"].score == pytest.approx(1 / 62 + 1 / 61)


def test_score_methods_keep_best_normalised_copy() -> None:
    lists = [
        ranked([("e", "E", 10.0), ("c1", "D", 5.0), ("f", "F", 0.0)]),  # c1 -> 0.5
        ranked([("c2", "D", 1.0), ("g", "G", 0.0)], retriever="dense"),  # c2 -> 1.0
    ]
    by_doc = {h.doc_id: h for h in comb_sum(lists, dedup="document")}
    assert by_doc["D"].chunk == chunk("c2", "D")
    assert by_doc["D"].score == pytest.approx(1.5)
    assert [p.retriever for p in by_doc["D"].provenance] == ["dense", "bm25"]


def test_provenance_complete_with_one_based_ranks() -> None:
    lists = [
        ranked([("a", 12.0), ("b", 7.0)], retriever="bm25", query="q1"),
        ranked([("b", 0.9), ("a", 0.8)], retriever="dense", query="q1"),
        ranked([("c", 3.0), ("a", 2.0), ("a", 1.0)], retriever="bm25", query="q2"),
    ]
    by_id = {h.chunk_id: h for h in rrf(lists)}
    assert by_id["a"].provenance == (
        Provenance(query="q1", retriever="bm25", rank=1, score=12.0),
        Provenance(query="q1", retriever="dense", rank=2, score=0.8),
        Provenance(query="q2", retriever="bm25", rank=2, score=2.0),
        Provenance(query="q2", retriever="bm25", rank=3, score=1.0),
    )
    assert by_id["b"].provenance == (
        Provenance(query="q1", retriever="dense", rank=1, score=0.9),
        Provenance(query="q1", retriever="bm25", rank=2, score=7.0),
    )
    assert by_id["c"].provenance == (Provenance("q2", "bm25", 1, 3.0),)


def test_rrf_uses_ranks_only() -> None:
    # RRF never looks at retriever scores, so odd scores are carried, not rejected.
    fused = rrf([ranked([("a", float("nan")), ("b", 5.0)])])
    assert ids(fused) == ["a", "b"]
    assert math.isnan(fused[0].provenance[0].score)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_inputs_not_mutated_and_outputs_are_new(method: Method) -> None:
    original = Hit(chunk("a"), 0.5, provenance=(Provenance("old", "old", 9, 9.0),))
    lists = [
        RankedList("q", "bm25", (original, Hit(chunk("b"), 0.2))),
        ranked([("b", 0.9)], retriever="dense"),
    ]
    snapshot = copy.deepcopy(lists)
    fused = method(lists)
    assert lists == snapshot
    assert original.provenance == (Provenance("old", "old", 9, 9.0),)
    assert all(h is not original for h in fused)
    by_id = {h.chunk_id: h for h in fused}
    assert by_id["a"].provenance == (Provenance("q", "bm25", 1, 0.5),)


# ---------------------------------------------------------------------------------------------
# Score-based methods, hand-computed
# ---------------------------------------------------------------------------------------------


def _two_score_lists() -> list[RankedList]:
    # Scores already span [0, 1], so min-max leaves them unchanged.
    return [
        ranked([("x", 1.0), ("y", 0.4), ("z", 0.0)], retriever="bm25"),
        ranked([("w", 1.0), ("y", 0.4), ("v", 0.0)], retriever="dense"),
    ]


def test_comb_sum_minmax() -> None:
    lists = [
        ranked([("a", 10.0), ("b", 6.0), ("c", 2.0)]),  # -> 1, 0.5, 0
        ranked([("b", 0.9), ("d", 0.5), ("a", 0.1)], retriever="dense"),  # -> 1, 0.5, 0
    ]
    fused = comb_sum(lists)
    assert ids(fused) == ["b", "a", "d", "c"]
    assert [h.score for h in fused] == pytest.approx([1.5, 1.0, 0.5, 0.0])


def test_comb_sum_vs_comb_mnz_ranking() -> None:
    # CombSUM: w=1 and x=1 (tie; best rank 1 both; "w" < "x"), y=0.8, v=z=0.
    summed = comb_sum(_two_score_lists())
    assert ids(summed) == ["w", "x", "y", "v", "z"]
    assert [h.score for h in summed] == pytest.approx([1.0, 1.0, 0.8, 0.0, 0.0])
    # CombMNZ multiplies y by its 2 lists: 1.6 puts it first.
    mnz = comb_mnz(_two_score_lists())
    assert ids(mnz) == ["y", "w", "x", "v", "z"]
    assert [h.score for h in mnz] == pytest.approx([1.6, 1.0, 1.0, 0.0, 0.0])


def test_comb_mnz_counts_only_weighted_lists() -> None:
    lists = _two_score_lists()
    fused = comb_mnz(lists, retriever_weights={"dense": 0.0})
    assert scores(fused) == {"x": 1.0, "y": pytest.approx(0.4), "z": 0.0}


def test_comb_sum_zscore() -> None:
    lists = [
        ranked([("a", 3.0), ("b", 1.0)]),  # mean 2, std 1 -> +1, -1
        ranked([("c", 4.0), ("a", 2.0), ("b", 0.0)], retriever="dense"),  # std sqrt(8/3)
    ]
    z = 2 / math.sqrt(8 / 3)  # = sqrt(3/2)
    fused = comb_sum(lists, normalization="zscore")
    assert scores(fused) == {
        "a": pytest.approx(1.0 + 0.0),
        "c": pytest.approx(z),
        "b": pytest.approx(-1.0 - z),
    }
    assert ids(fused) == ["c", "a", "b"]
    mnz = comb_mnz(lists, normalization="zscore")
    assert scores(mnz) == {
        "a": pytest.approx(2.0),
        "c": pytest.approx(z),
        "b": pytest.approx(2 * (-1.0 - z)),
    }


def test_normalization_none_uses_raw_weighted_scores() -> None:
    lists = [ranked([("a", 3.0), ("b", 1.0)]), ranked([("a", 0.5)], retriever="dense")]
    fused = comb_sum(lists, normalization="none", retriever_weights={"dense": 4.0})
    assert scores(fused) == {"a": pytest.approx(3.0 + 2.0), "b": pytest.approx(1.0)}


def test_weights_apply_to_score_methods() -> None:
    fused = comb_sum(_two_score_lists(), retriever_weights={"bm25": 2.0})
    assert scores(fused) == {
        "x": pytest.approx(2.0),
        "w": pytest.approx(1.0),
        "y": pytest.approx(2 * 0.4 + 0.4),
        "z": 0.0,
        "v": 0.0,
    }


def test_single_hit_and_constant_lists() -> None:
    single = [ranked([("a", 0.3)])]
    constant = [ranked([("a", 5.0), ("b", 5.0)])]
    assert scores(comb_sum(single)) == {"a": 1.0}
    assert scores(comb_sum(constant)) == {"a": 1.0, "b": 1.0}
    assert scores(comb_sum(single, normalization="zscore")) == {"a": 0.0}
    assert scores(comb_sum(constant, normalization="zscore")) == {"a": 0.0, "b": 0.0}
    # A constant list whose float mean is off by an ulp must still be 0, not +-1.
    thirds = [ranked([("a", 0.1), ("b", 0.1), ("c", 0.1)])]
    assert scores(comb_sum(thirds, normalization="zscore")) == {"a": 0.0, "b": 0.0, "c": 0.0}
    assert scores(dbsf(single)) == {"a": 0.5}
    assert scores(dbsf(constant)) == {"a": 0.5, "b": 0.5}
    # A lone hit is its list's best under min-max: it ties with the other list's top hit.
    fused = comb_sum([ranked([("a", 9.0), ("b", 1.0)]), ranked([("c", 0.2)], retriever="dense")])
    assert scores(fused) == {"a": 1.0, "c": 1.0, "b": 0.0}


def test_convex_weights_are_normalised() -> None:
    lists = _two_score_lists()
    fused = convex(lists, retriever_weights={"bm25": 1.0, "dense": 3.0})
    assert scores(fused) == {
        "w": pytest.approx(0.75),
        "x": pytest.approx(0.25),
        "y": pytest.approx(0.25 * 0.4 + 0.75 * 0.4),
        "v": 0.0,
        "z": 0.0,
    }
    assert ids(fused)[:3] == ["w", "y", "x"]
    # Only the ratio matters.
    assert convex(lists, retriever_weights={"bm25": 2.0, "dense": 6.0}) == fused
    # Equal weights: half of CombSUM.
    half = {k: v / 2 for k, v in scores(comb_sum(lists)).items()}
    assert scores(convex(lists)) == pytest.approx(half)


def test_convex_ignores_empty_lists_when_normalising_weights() -> None:
    lists = _two_score_lists()
    with_empty = [*lists, RankedList("q", "sparse", ())]
    fused = convex(with_empty, retriever_weights={"dense": 3.0, "sparse": 100.0})
    assert fused == convex(lists, retriever_weights={"dense": 3.0})


def test_convex_minmax_scores_within_unit_interval() -> None:
    lists = [
        ranked([("a", 9.0), ("b", 3.0)], weight=5.0),
        ranked([("a", 0.5), ("c", 0.1)], retriever="dense"),
    ]
    fused = convex(lists)
    assert scores(fused) == {"a": pytest.approx(1.0), "b": 0.0, "c": 0.0}


def test_dbsf_hand_computed() -> None:
    lists = [
        ranked([("a", 3.0), ("b", 1.0)]),  # mu 2, sigma 1: [-1, 5] -> 4/6, 2/6
        ranked([("b", 7.0)], retriever="dense"),  # single hit -> 0.5
    ]
    fused = dbsf(lists)
    assert scores(fused) == {"b": pytest.approx(1 / 3 + 0.5), "a": pytest.approx(2 / 3)}
    assert ids(fused) == ["b", "a"]
    weighted = dbsf(lists, retriever_weights={"dense": 2.0})
    assert scores(weighted)["b"] == pytest.approx(1 / 3 + 1.0)


def test_dbsf_clips_outliers() -> None:
    # 20 scores, mean 0, population sigma sqrt(1000): +-100 lie 3.16 sigma out.
    values = [100.0] + [0.0] * 18 + [-100.0]
    lst = ranked([(f"h{i:02d}", v) for i, v in enumerate(values)])
    mu = sum(values) / len(values)
    sigma = math.sqrt(sum((v - mu) ** 2 for v in values) / len(values))
    assert (100.0 - mu) / sigma > 3  # the outliers really lie beyond 3 sigma
    by_id = scores(dbsf([lst]))
    assert by_id["h00"] == 1.0
    assert by_id["h19"] == 0.0
    assert by_id["h05"] == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------
# Edge cases and validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
def test_no_lists_and_empty_lists(method: Method) -> None:
    assert method([]) == []
    assert method([RankedList("q", "bm25", ())]) == []
    lists = [ranked([("a", 2.0), ("b", 1.0)])]
    assert method([RankedList("q", "dense", ()), *lists]) == method(lists)


@pytest.mark.parametrize("method", SCORE_METHODS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_score_rejected_by_score_methods(method: Method, bad: float) -> None:
    lists = [ranked([("a", 1.0)]), ranked([("b", 1.0), ("c", bad)], retriever="dense")]
    with pytest.raises(ValueError, match=r"finite.*'dense'.*rank 2"):
        method(lists)


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_weights_rejected(method: Method, bad: float) -> None:
    lists = [ranked([("a", 1.0)])]
    with pytest.raises(ValueError, match="retriever_weights"):
        method(lists, retriever_weights={"bm25": bad})
    with pytest.raises(ValueError, match="weight of list 0"):
        method([ranked([("a", 1.0)], weight=bad)])


@pytest.mark.parametrize("k", [0, -1, -60.0, float("nan"), float("inf")])
def test_rrf_rejects_bad_k(k: float) -> None:
    with pytest.raises(ValueError, match="k must be"):
        rrf([ranked(["a"])], k=k)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_unknown_dedup_rejected(method: Method) -> None:
    with pytest.raises(ValueError, match="dedup"):
        method([ranked(["a"])], dedup="doc")


@pytest.mark.parametrize("method", [comb_sum, comb_mnz, convex])
def test_unknown_normalization_rejected(method: Method) -> None:
    with pytest.raises(ValueError, match="normalization"):
        method([ranked(["a"])], normalization="l2")


def test_fuse_dispatches_by_name() -> None:
    assert set(FUSION_METHODS) == {"rrf", "combsum", "combmnz", "convex", "dbsf"}
    lists = _two_score_lists()
    assert fuse("rrf", lists, k=10, limit=3) == rrf(lists, k=10, limit=3)
    assert fuse("combsum", lists) == comb_sum(lists)
    assert fuse("combmnz", lists, normalization="zscore") == comb_mnz(lists, normalization="zscore")
    assert fuse("convex", lists, retriever_weights={"dense": 3}) == convex(
        lists, retriever_weights={"dense": 3}
    )
    assert fuse("dbsf", lists) == dbsf(lists)


def test_fuse_unknown_method_names_valid_ones() -> None:
    with pytest.raises(ValueError, match="bogus") as info:
        fuse("bogus", [])
    for name in ("rrf", "combsum", "combmnz", "convex", "dbsf"):
        assert name in str(info.value)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_fast_enough_for_8_lists_of_100(method: Method) -> None:
    # A coarse guard against accidental quadratic work; real timings live in benchmarks.
    pool = [chunk(f"c{i:03d}", f"d{i // 3}") for i in range(400)]
    lists = [
        RankedList(
            f"q{j % 4}",
            "bm25" if j % 2 else "dense",
            tuple(Hit(pool[(j * 37 + 7 * i) % 400], 1.0 / (i + 1)) for i in range(100)),
        )
        for j in range(8)
    ]
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        method(lists, limit=10)
        best = min(best, time.perf_counter() - start)
    assert best < 0.02


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

CHUNK_IDS = [f"c{i}" for i in range(12)]
RETRIEVERS = ["bm25", "dense", "sparse"]


@st.composite
def ranked_lists(draw: st.DrawFn, *, min_weight: float = 0.1) -> list[RankedList]:
    n_lists = draw(st.integers(min_value=0, max_value=5))
    lists = []
    for _ in range(n_lists):
        picks = draw(st.lists(st.sampled_from(CHUNK_IDS), max_size=10))  # duplicates allowed
        hits = tuple(
            Hit(
                chunk(cid, f"d{int(cid[1:]) // 3}"),
                draw(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)),
            )
            for cid in picks
        )
        lists.append(
            RankedList(
                query=draw(st.sampled_from(["q1", "q2"])),
                retriever=draw(st.sampled_from(RETRIEVERS)),
                hits=hits,
                weight=draw(st.floats(min_value=min_weight, max_value=5.0)),
            )
        )
    return lists


def key_of(hit: Hit, dedup: str) -> str:
    return hit.doc_id if dedup == "document" else hit.chunk_id


METHOD_NAMES = sorted(FUSION_METHODS)
DEDUPS: list[DedupKey] = ["chunk", "document"]
NORMALIZATIONS: list[Normalization] = ["minmax", "zscore", "none"]


@settings(max_examples=150)
@given(
    lists=ranked_lists(),
    name=st.sampled_from(METHOD_NAMES),
    dedup=st.sampled_from(DEDUPS),
)
def test_property_unique_keys_union_and_sorted(
    lists: list[RankedList], name: str, dedup: str
) -> None:
    fused = fuse(name, lists, dedup=dedup)
    keys = [key_of(h, dedup) for h in fused]
    assert len(keys) == len(set(keys))
    assert set(keys) == {key_of(h, dedup) for lst in lists for h in lst.hits}
    assert all(a.score >= b.score for a, b in itertools.pairwise(fused))
    # Every occurrence is accounted for exactly once in some provenance.
    assert sum(len(h.provenance) for h in fused) == sum(len(lst.hits) for lst in lists)
    for hit in fused:
        assert all(p.rank >= 1 for p in hit.provenance)
        assert [p.rank for p in hit.provenance] == sorted(p.rank for p in hit.provenance)


@settings(max_examples=150)
@given(
    lists=ranked_lists(),
    name=st.sampled_from(METHOD_NAMES),
    dedup=st.sampled_from(DEDUPS),
    data=st.data(),
)
def test_property_permuting_lists_keeps_ranking(
    lists: list[RankedList], name: str, dedup: str, data: st.DataObject
) -> None:
    equal = [RankedList(lst.query, lst.retriever, lst.hits) for lst in lists]
    for candidate in (equal, lists):  # equal weights, then weights travelling with the lists
        permuted = data.draw(st.permutations(candidate))
        before = fuse(name, candidate, dedup=dedup)
        after = fuse(name, permuted, dedup=dedup)
        assert [key_of(h, dedup) for h in after] == [key_of(h, dedup) for h in before]
        assert [h.score for h in after] == pytest.approx([h.score for h in before])


@given(lst=ranked_lists().filter(lambda ls: len(ls) >= 1).map(lambda ls: ls[0]))
def test_property_rrf_single_list_preserves_order(lst: RankedList) -> None:
    first_occurrences = list(dict.fromkeys(h.chunk_id for h in lst.hits))
    assert ids(rrf([lst])) == first_occurrences


@given(lists=ranked_lists(), dedup=st.sampled_from(DEDUPS), k=st.floats(0.5, 100.0))
def test_property_rrf_matches_reference_formula(
    lists: list[RankedList], dedup: DedupKey, k: float
) -> None:
    expected: dict[str, float] = {}
    for lst in lists:
        first_rank: dict[str, int] = {}
        for rank, hit in enumerate(lst.hits, start=1):
            first_rank.setdefault(key_of(hit, dedup), rank)
        for key, rank in first_rank.items():
            expected[key] = expected.get(key, 0.0) + lst.weight / (k + rank)
    fused = rrf(lists, k=k, dedup=dedup)
    assert {key_of(h, dedup): h.score for h in fused} == pytest.approx(expected)


@given(lists=ranked_lists(), normalization=st.sampled_from(NORMALIZATIONS))
def test_property_comb_mnz_is_comb_sum_times_list_count(
    lists: list[RankedList], normalization: Normalization
) -> None:
    summed = scores(comb_sum(lists, normalization=normalization))
    mnz = scores(comb_mnz(lists, normalization=normalization))
    counts = {cid: sum(any(h.chunk_id == cid for h in lst.hits) for lst in lists) for cid in mnz}
    assert mnz == pytest.approx({cid: summed[cid] * counts[cid] for cid in summed}, abs=1e-9)


@given(lists=ranked_lists())
def test_property_bounded_scores(lists: list[RankedList]) -> None:
    assert all(0.0 <= h.score <= 1.0 + 1e-12 for h in convex(lists))
    total_weight = sum(lst.weight for lst in lists)
    assert all(0.0 <= h.score <= total_weight + 1e-9 for h in dbsf(lists))
    assert all(0.0 < h.score <= total_weight / (DEFAULT_RRF_K + 1) + 1e-12 for h in rrf(lists))


@given(lists=ranked_lists(min_weight=0.0), name=st.sampled_from(METHOD_NAMES))
def test_property_keys_only_from_weighted_lists(lists: list[RankedList], name: str) -> None:
    fused = fuse(name, lists)
    weighted = {h.chunk_id for lst in lists if lst.weight > 0 for h in lst.hits}
    assert set(ids(fused)) == weighted


def test_convex_keeps_documents_of_a_list_whose_weight_underflows() -> None:
    # Found by the property test: 5e-324 / 2.0 underflows to 0.0 when convex normalises the
    # weights, which silently dropped that list's only document.
    lists = [
        ranked([("c0", 1.0), ("c1", 0.5)], weight=math.nextafter(0.0, 1.0)),
        ranked([("c0", 1.0)], weight=2.0),
    ]
    assert set(ids(convex(lists))) == {"c0", "c1"}
