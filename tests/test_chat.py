"""Multi-turn chat: history in SQLite, standalone follow-ups, abstaining on weak evidence."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest
from tests.conftest import HashEmbedder, ScriptedLLM

from ragfusion.apps.chat import chat_stream, condense, needs_context
from ragfusion.apps.conversations import ConversationStore, Turn, UnknownConversationError
from ragfusion.config import PipelineConfig
from ragfusion.pipeline import WEAK_EVIDENCE_TEXT, Pipeline


def turn(role: str, content: str, standalone: str | None = None) -> Turn:
    return Turn(role, content, standalone, [], 0.0)


HISTORY = [
    turn("user", "How long is the warranty of the purifier?", "How long is the warranty?"),
    turn("assistant", "The warranty lasts 2 years [1]."),
]


def test_store_keeps_turns_in_order_and_survives_reopening(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    cid = store.create()
    store.append(cid, "user", "first", standalone="first?")
    store.append(cid, "assistant", "answer", citations=[{"n": 1}])
    store.close()
    reopened = ConversationStore(tmp_path / "c.sqlite3")
    turns = reopened.turns(cid)
    assert [(t.role, t.content) for t in turns] == [("user", "first"), ("assistant", "answer")]
    assert turns[0].standalone == "first?" and turns[1].citations == [{"n": 1}]
    assert [t.content for t in reopened.turns(cid, last=1)] == ["answer"]
    with pytest.raises(UnknownConversationError, match="leaving the id out"):
        reopened.require("missing")
    assert reopened.delete(cid) and not reopened.exists(cid)


def test_store_is_safe_across_threads(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    cid = store.create()

    def write(n: int) -> None:
        for i in range(25):
            store.append(cid, "user", f"{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.turns(cid)) == 100


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Can I extend it?", True),
        ("What about that?", True),
        ("and the price", True),
        ("How do I reset the filter indicator light?", False),
    ],
)
def test_needs_context(message: str, expected: bool) -> None:
    assert needs_context(message) is expected


def test_first_or_self_contained_messages_are_searched_as_they_are() -> None:
    llm = ScriptedLLM(["unused"])
    assert condense("How do I pair the Wi-Fi module?", [], llm).how == "as-is"
    assert condense("How do I pair the Wi-Fi module?", HISTORY, llm).how == "as-is"
    assert not llm.prompts  # no model call when none is needed


def test_llm_rewrite_is_used_when_it_keeps_the_follow_up() -> None:
    llm = ScriptedLLM([json.dumps({"question": "Can I extend the warranty of the purifier?"})])
    result = condense("Can I extend it?", HISTORY, llm)
    assert result.how == "llm"
    assert result.question == "Can I extend the warranty of the purifier?"
    assert result.context_query == "How long is the warranty? Can I extend it?"
    assert llm.schemas[0] is not None  # JSON-constrained
    assert any("warranty lasts 2 years" in m["content"] for m in llm.prompts[0])


@pytest.mark.parametrize(
    "reply",
    [
        "not json",
        json.dumps({"question": "How long is the warranty?"}),  # the previous question again
        json.dumps({"question": "What is the capital of France?"}),  # lost the follow-up
        json.dumps({"question": "Can I extend it? Yes, for 35 dollars."}),  # invented number
        json.dumps({"question": "extend"}),  # not a question
        json.dumps({"question": "Can I extend this one?"}),  # still does not say what "it" is
    ],
)
def test_unusable_rewrites_fall_back_to_the_history(reply: str) -> None:
    result = condense("Can I extend it?", HISTORY, ScriptedLLM([reply]))
    assert result.how == "context"
    assert result.question == "How long is the warranty? Can I extend it?"


def make_pipe(path: Path, corpus: Path, replies: list[str]) -> Pipeline:
    config = PipelineConfig(answer_mode="generative")  # these tests drive the LLM path
    pipe = Pipeline.open(path, config, embedder=HashEmbedder(), llm=ScriptedLLM(replies))
    pipe.ingest([corpus])
    return pipe


def test_chat_turns_are_saved_with_the_standalone_question(tmp_path: Path, corpus: Path) -> None:
    answer = "The warranty lasts 2 years [1]."
    with make_pipe(tmp_path / "idx", corpus, [answer]) as pipe:
        store = ConversationStore(tmp_path / "c.sqlite3")
        events = list(chat_stream(pipe, store, "How long is the warranty?"))
        assert events[0].kind == "conversation" and events[-1].kind == "done"
        cid = events[0].data["id"]
        follow = list(chat_stream(pipe, store, "Can I extend it?", conversation_id=cid))
        info = follow[0].data
        assert info["how"] == "context" and "warranty" in info["standalone"]
        done = follow[-1].data
        assert done.question == info["standalone"]
        assert any("Register within 30 days" in h.chunk.text for h in done.hits)
        saved = store.turns(cid)
        assert [t.role for t in saved] == ["user", "assistant"] * 2
        assert saved[2].content == "Can I extend it?" and saved[2].standalone == info["standalone"]
        # the earlier turns reach the model as chat history
        prompt = pipe.llm.prompts[-1]  # type: ignore[attr-defined]
        assert [m["role"] for m in prompt[:3]] == ["system", "user", "assistant"]


def test_weak_evidence_gets_i_dont_know(tmp_path: Path, corpus: Path) -> None:
    with make_pipe(tmp_path / "idx", corpus, ["The warranty lasts 2 years [1]."]) as pipe:
        strict = pipe.with_config(dataclasses.replace(pipe.config, abstain_below=0.99))
        answer = strict.ask("How long is the warranty?")
        assert answer.mode == "abstain" and answer.text == WEAK_EVIDENCE_TEXT
        assert answer.evidence is not None and answer.evidence < 0.99
        assert not answer.citations and answer.hits  # the hits are still shown
        assert any("abstain threshold" in w for w in answer.warnings)
        assert not pipe.llm.prompts  # type: ignore[attr-defined]
        lenient = pipe.with_config(dataclasses.replace(pipe.config, abstain_below=0.0))
        assert lenient.ask("How long is the warranty?").mode == "generative"
        assert strict.ask("How long is the warranty?", abstain=False).mode == "generative"


def test_threshold_applies_only_to_the_model_it_was_calibrated_for(
    tmp_path: Path, corpus: Path
) -> None:
    with make_pipe(tmp_path / "idx", corpus, ["x"]) as pipe:
        assert pipe.config.abstain_below is None  # HashEmbedder is not MiniLM
    assert PipelineConfig().abstain_below == pytest.approx(0.455)


def test_evidence_is_none_without_dense_search(tmp_path: Path, corpus: Path) -> None:
    with make_pipe(tmp_path / "idx", corpus, ["x"]) as pipe:
        assert pipe.search("warranty", retrievers=["bm25"]).evidence is None
        evidence = pipe.search("warranty", retrievers=["dense"]).evidence
        assert evidence is not None and 0.0 < evidence <= 1.0001
