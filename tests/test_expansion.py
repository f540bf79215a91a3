from __future__ import annotations

import pytest

from ragfusion.retrieval.expansion import rm3_weights


def test_rm3_hand_computed() -> None:
    # feedback: d1 (score 3) = [aa, bb, bb, cc], d2 (score 1) = [bb, dd]
    weights = rm3_weights(
        ["qa", "qe"],
        [(["aa", "bb", "bb", "cc"], 3.0), (["bb", "dd"], 1.0)],
        n_terms=2,
        original_weight=0.5,
    )
    # P(t|R): aa = .75*.25 = .1875; bb = .75*.5 + .25*.5 = .5; cc = .1875; dd = .125
    # top 2: bb (.5), then aa/cc tie broken alphabetically -> aa; renormalised over .6875
    assert weights == pytest.approx(
        {"qa": 0.25, "qe": 0.25, "bb": 0.5 * 0.5 / 0.6875, "aa": 0.5 * 0.1875 / 0.6875}
    )
    assert sum(weights.values()) == pytest.approx(1.0)


def test_rm3_without_feedback_keeps_the_query() -> None:
    assert rm3_weights(["filter", "filter", "hepa"], []) == pytest.approx(
        {"filter": 2 / 3, "hepa": 1 / 3}
    )


def test_rm3_ignores_zero_and_negative_scores() -> None:
    weights = rm3_weights(["x1"], [(["y1"], 0.0), (["z1"], -2.0)])
    assert weights == {"x1": 1.0}


def test_rm3_rejects_bad_interpolation() -> None:
    with pytest.raises(ValueError):
        rm3_weights(["a1"], [], original_weight=1.5)
