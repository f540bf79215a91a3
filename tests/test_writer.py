"""Grounded long-form writing: outline, per-section retrieval, one reference list."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import EXAMPLES, HashEmbedder, ScriptedLLM

from ragfusion.apps.writer import (
    Draft,
    WriteProgress,
    complete_sentences,
    sections_for,
    write,
    write_stream,
)
from ragfusion.config import PipelineConfig
from ragfusion.errors import ConfigError
from ragfusion.pipeline import Pipeline


def make_pipe(path: Path, corpus: Path, replies: list[str]) -> Pipeline:
    pipe = Pipeline.open(path, PipelineConfig(), embedder=HashEmbedder(), llm=ScriptedLLM(replies))
    pipe.ingest([corpus])
    return pipe


OUTLINE = json.dumps({"sections": ["Replacing the filter", "Warranty"]})


def test_draft_has_sections_citations_and_one_reference_list(tmp_path: Path, corpus: Path) -> None:
    replies = [
        OUTLINE,
        "Replace the HEPA filter every 6 months [1]. Open the rear cover first [2].",
        "The warranty lasts 2 years [1] and can be extended to 3 years [2].",
    ]
    with make_pipe(tmp_path / "idx", corpus, replies) as pipe:
        items = list(write_stream(pipe, "Looking after the purifier", words=300))
    progress = [i for i in items if isinstance(i, WriteProgress)]
    draft = items[-1]
    assert isinstance(draft, Draft)
    assert [p.stage for p in progress] == ["outline", "section", "section", "done"]
    assert [s.heading for s in draft.sections] == ["Replacing the filter", "Warranty"]
    assert all(s.mode == "generative" for s in draft.sections)
    # markers are renumbered into one list; every marker has a reference
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", draft.markdown.split("## References")[0])}
    assert numbers == {r.n for r in draft.references}
    assert [r.n for r in draft.references] == list(range(1, len(draft.references) + 1))
    assert len({(r.citation.chunk_id, r.citation.start) for r in draft.references}) == len(
        draft.references
    )
    markdown = draft.markdown
    assert markdown.startswith("# Looking after the purifier\n")
    assert "## Replacing the filter" in markdown and "## References" in markdown
    # each section was searched with its own heading as a query variant
    assert "Replacing the filter" in draft.sections[0].queries
    assert "Warranty" in draft.sections[1].queries


def test_unusable_outline_falls_back_to_the_corpus_headings(tmp_path: Path, corpus: Path) -> None:
    replies = ["not json at all", "Replace the filter every 6 months as the guide says [1]."]
    with make_pipe(tmp_path / "idx", corpus, replies) as pipe:
        draft = write(pipe, "Filters", words=400)
    assert len(draft.outline) == sections_for(400)
    assert any("outline from the model was unusable" in w for w in draft.warnings)
    assert all(h.strip() for h in draft.outline)
    assert len({h.lower() for h in draft.outline}) == len(draft.outline)


def test_unusable_section_is_quoted_instead(tmp_path: Path, corpus: Path) -> None:
    with make_pipe(tmp_path / "idx", corpus, [OUTLINE, "?"]) as pipe:
        draft = write(pipe, "Purifier care", words=300)
    assert all(s.mode == "extractive" for s in draft.sections)
    assert draft.references
    for ref in draft.references:  # quoted text is exactly the cited span
        assert ref.citation.text in draft.markdown


def test_extractive_sections_quote_the_passages(tmp_path: Path, corpus: Path) -> None:
    with make_pipe(tmp_path / "idx", corpus, [OUTLINE]) as pipe:
        draft = write(pipe, "Purifier care", words=300, extractive=True)
        assert len(pipe.llm.prompts) == 1  # type: ignore[attr-defined]  # the outline only
    assert [s.mode for s in draft.sections] == ["extractive", "extractive"]
    for ref in draft.references:
        assert ref.citation.text in draft.markdown


def test_a_sentence_cut_by_the_token_limit_is_dropped() -> None:
    cut = "The filter lasts 6 months [1]. Replace it when the light turns red. This adapter has"
    assert complete_sentences(cut) == (
        "The filter lasts 6 months [1]. Replace it when the light turns red."
    )
    assert complete_sentences("Short and fine [2].") == "Short and fine [2]."
    assert complete_sentences("no end at all") == "no end at all"


def test_bad_arguments(tmp_path: Path, corpus: Path) -> None:
    with make_pipe(tmp_path / "idx", corpus, [OUTLINE]) as pipe:
        with pytest.raises(ConfigError, match="topic is empty"):
            write(pipe, "   ")
        with pytest.raises(ConfigError, match="between"):
            write(pipe, "x", words=10)


@pytest.mark.models
def test_write_command_with_the_real_models(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "ragfusion"]
    index = tmp_path / "index"
    subprocess.run([*cli, "ingest", str(EXAMPLES), "--index", str(index)], check=True)
    out = tmp_path / "draft.md"
    done = subprocess.run(
        [
            *cli,
            "write",
            "Caring for the air purifier",
            "--index",
            str(index),
            "--words",
            "300",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "[1/" in done.stderr and "wrote" in done.stderr
    text = out.read_text()
    assert text.startswith("# Caring for the air purifier")
    assert text.count("\n## ") >= 3  # sections and the references
    assert "## References" in text and "examples/kb" in text
