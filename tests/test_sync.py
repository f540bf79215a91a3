"""``Pipeline.sync`` and ``ragfusion sync``: the index follows its folders, embedding only what
is new (with the hashing embedder, which records the size of every embedding call)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.conftest import HashEmbedder
from typer.testing import CliRunner

from ragfusion import Pipeline, PipelineConfig
from ragfusion.pipeline import TextRecord, embedding_text

# Six paragraphs of ~700 characters: several chunks (800 characters without a tokenizer).
LONG = "\n\n".join(
    f"Part {i}. " + " ".join(f"Topic{i} sentence {j} about filters and fans." for j in range(16))
    for i in range(6)
)


def open_pipe(index: Path, embedder: HashEmbedder | None = None) -> Pipeline:
    return Pipeline.open(index, PipelineConfig(), embedder=embedder or HashEmbedder())  # type: ignore[arg-type]


def sources(pipe: Pipeline) -> set[str]:
    return {Path(d.source).name for d in pipe.documents()}


def test_sync_adds_updates_and_removes(tmp_path: Path, corpus: Path) -> None:
    with open_pipe(tmp_path / "idx") as pipe:
        first = pipe.sync([corpus])
        assert (first.added, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
        (corpus / "new.md").write_text("# New\n\nThe new model has a night mode.\n")
        (corpus / "warranty.txt").write_text("Warranty\n\nThe warranty now lasts 5 years.\n")
        (corpus / "guides" / "wifi.md").unlink()
        report = pipe.sync([corpus])
        assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 1, 1)
        assert sources(pipe) == {"filters.md", "warranty.txt", "new.md"}
        assert report.chunks_removed >= 2  # the old warranty chunk and the Wi-Fi chunk
        hits = pipe.search("pairing mode Wi-Fi button", k=5).hits
        assert hits and not any(h.chunk.source.endswith("wifi.md") for h in hits)
        assert pipe.store.check().ok
        again = pipe.sync([corpus])
        assert (again.added, again.updated, again.removed, again.chunks_added) == (0, 0, 0, 0)


def test_sync_removes_renamed_hidden_and_unsupported_files(tmp_path: Path, corpus: Path) -> None:
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.sync([corpus])
        (corpus / "guides" / "wifi.md").rename(corpus / "guides" / "wireless.md")
        (corpus / "guides" / "filters.md").rename(corpus / "guides" / ".filters.md")
        (corpus / "warranty.txt").rename(corpus / "warranty.bak")
        report = pipe.sync([corpus])
        assert (report.added, report.removed) == (1, 3)
        assert sources(pipe) == {"wireless.md"}
        assert any(Path(s.path).name == "warranty.bak" for s in report.skipped)


def test_sync_touches_only_documents_under_the_given_paths(tmp_path: Path, corpus: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("Keep me\n\nThis file lives in another folder.\n")
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.ingest([corpus, other])
        pipe.ingest_records([TextRecord("faq:1", "Records are not files and stay put.")])
        shutil.rmtree(corpus / "guides")
        report = pipe.sync([corpus])
        assert report.removed == 2
        assert sources(pipe) == {"warranty.txt", "keep.txt", "faq:1"}
        # A synced path that is gone altogether removes what was under it, and only that.
        shutil.rmtree(other)
        report = pipe.sync([other])
        assert report.removed == 1 and report.files == 0
        assert sources(pipe) == {"warranty.txt", "faq:1"}
        assert pipe.store.check().ok


def test_a_file_that_no_longer_loads_keeps_its_indexed_version(
    tmp_path: Path, corpus: Path
) -> None:
    with open_pipe(tmp_path / "idx") as pipe:
        pipe.sync([corpus])
        (corpus / "warranty.txt").write_bytes(b"")
        report = pipe.sync([corpus])
        assert report.removed == 0 and sources(pipe) == {"filters.md", "wifi.md", "warranty.txt"}
        reasons = {Path(s.path).name: s.reason for s in report.skipped}
        assert "empty" in reasons["warranty.txt"]


def test_sync_embeds_only_the_new_text(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.txt").write_text(LONG)
    (folder / "short.txt").write_text("Short\n\nA short note about the fan.\n")
    embedder = HashEmbedder()
    with open_pipe(tmp_path / "idx", embedder) as pipe:
        pipe.sync([folder])
        doc_id = next(d.doc_id for d in pipe.documents() if d.source.endswith("long.txt"))
        old = pipe.document(doc_id)
        assert old is not None
        old_texts = {embedding_text(old.title, c) for c in pipe.chunker.split(old)}
        assert len(old_texts) >= 4
        # Insert a paragraph after the second: every chunk after it moves (new ids).
        parts = LONG.split("\n\n")
        edited = "\n\n".join([*parts[:2], "An inserted paragraph about night mode.", *parts[2:]])
        (folder / "long.txt").write_text(edited)
        embedder.calls.clear()
        report = pipe.sync([folder])
        new = pipe.document(doc_id)
        assert new is not None
        new_texts = [embedding_text(new.title, c) for c in pipe.chunker.split(new)]
        fresh = [t for t in new_texts if t not in old_texts]
        assert (report.updated, report.unchanged) == (1, 1)
        assert sum(embedder.calls) == len(fresh) < report.chunks_added
        assert report.chunks_reused == report.chunks_added - len(fresh) > 0
        assert pipe.store.check().ok
        # Reused vectors are the ones the embedder gives for that text.
        reused_text = new_texts[-1]
        hit = pipe.store.search_dense(embedder.embed_queries([reused_text]), 1)[0][0]
        assert hit.score == pytest.approx(1.0, abs=1e-5)


def test_cli_sync(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ragfusion import pipeline
    from ragfusion.cli import app

    monkeypatch.setattr(pipeline, "make_embedder", lambda *a, **k: HashEmbedder())
    index = tmp_path / "idx"
    runner = CliRunner()
    result = runner.invoke(app, ["sync", str(corpus), "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 3
    (corpus / "warranty.txt").unlink()
    (corpus / "notes.xyz").write_text("unsupported")
    result = runner.invoke(app, ["sync", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "0 added, 0 updated, 2 unchanged, 1 removed" in result.output
    assert "notes.xyz" in result.output
