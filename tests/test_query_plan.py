from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ScriptedLLM

from ragfusion.retrieval.query_plan import (
    ORIGINAL_WEIGHT,
    REWRITE_SCHEMA,
    RewriteCache,
    clean_rewrite,
    plan_queries,
)

QUESTION = "How often should I replace the HEPA filter?"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"query": "HEPA filter replacement interval"}', "HEPA filter replacement interval"),
        ('{"query": "  HEPA   filter lifespan months "}', "HEPA filter lifespan months"),
        ('{"query": "', None),  # truncated JSON
        ('{"query": "E4: 0x2691 ENCNAM_SYSRESULTS"}', None),  # off topic: no shared word
        ('{"query": "filter"}', None),  # too short to be a query
        ('{"query": "{\\"nested\\": filter}"}', None),  # JSON debris
        ('{"query": "' + "HEPA filter " * 40 + '"}', None),  # runaway length
        ('{"other": "HEPA filter change"}', None),
        ('not json but "query": "replace HEPA filter schedule', "replace HEPA filter schedule"),
    ],
)
def test_clean_rewrite(reply: str, expected: str | None) -> None:
    assert clean_rewrite(reply, QUESTION) == expected


def test_original_is_first_and_weighs_most() -> None:
    llm = ScriptedLLM(
        [
            '{"query": "HEPA filter replacement interval"}',
            '{"query": "when to change the HEPA filter"}',
        ]
    )
    plan = plan_queries(QUESTION, rewrites=2, llm=llm, rewrite_weight=0.5)
    assert plan.texts == (
        QUESTION,
        "HEPA filter replacement interval",
        "when to change the HEPA filter",
    )
    assert plan.variants[0].kind == "original"
    assert plan.variants[0].weight == ORIGINAL_WEIGHT
    assert all(v.weight < ORIGINAL_WEIGHT for v in plan.variants[1:])
    assert not plan.degraded
    assert llm.schemas[0] == REWRITE_SCHEMA  # rewrites are JSON-constrained


def test_duplicates_and_copies_of_the_question_are_dropped() -> None:
    llm = ScriptedLLM(
        [
            f'{{"query": "{QUESTION}"}}',
            '{"query": "hepa FILTER replacement"}',
            '{"query": "HEPA filter replacement!"}',
            '{"query": "filter"}',
        ]
    )
    plan = plan_queries(QUESTION, rewrites=3, llm=llm)
    assert plan.texts == (QUESTION, "hepa FILTER replacement")
    assert not plan.degraded
    assert any("only 1 of 3" in w for w in plan.warnings)


def test_all_junk_degrades_visibly_but_keeps_the_original() -> None:
    plan = plan_queries(QUESTION, rewrites=2, llm=ScriptedLLM(['{"query": "'] * 10))
    assert plan.texts == (QUESTION,)
    assert plan.degraded
    assert plan.warnings


def test_user_queries_are_kept_and_deduplicated() -> None:
    plan = plan_queries(QUESTION, queries=["filter lifetime", "Filter lifetime", QUESTION, " "])
    assert plan.texts == (QUESTION, "filter lifetime")
    assert [v.kind for v in plan.variants] == ["original", "user"]


def test_no_llm_calls_without_rewrites() -> None:
    llm = ScriptedLLM(['{"query": "x y"}'])
    plan_queries(QUESTION, rewrites=0, llm=llm)
    assert llm.prompts == []


def test_rewrites_are_cached(tmp_path: Path) -> None:
    cache = RewriteCache(tmp_path / "cache.sqlite3")
    first = ScriptedLLM(
        ['{"query": "HEPA filter replacement interval"}', '{"query": "change HEPA filter months"}']
    )
    plan_a = plan_queries(QUESTION, rewrites=2, llm=first, cache=cache)
    second = ScriptedLLM(['{"query": "never used"}'])
    plan_b = plan_queries(QUESTION, rewrites=2, llm=second, cache=cache)
    assert plan_a.texts == plan_b.texts
    assert second.prompts == []
    cache.close()
    reopened = RewriteCache(tmp_path / "cache.sqlite3")
    third = ScriptedLLM(['{"query": "never used"}'])
    assert plan_queries(QUESTION, rewrites=2, llm=third, cache=reopened).texts == plan_a.texts
    assert third.prompts == []
