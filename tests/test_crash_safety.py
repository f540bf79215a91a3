"""kill -9 during ingest: the index opens, is consistent, loses no commit, and resumes.

A worker process (tests/crash_worker.py) ingests a few hundred real abstracts with small
commit batches and prints what each commit made durable; we SIGKILL it at seeded random
moments (while it loads, embeds, commits or repairs), change some files between runs so
updates and chunk removals are killed too, and check the index after every other kill.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.conftest import ROOT, HashEmbedder

from ragfusion import Pipeline, PipelineConfig
from ragfusion.ingest.ids import content_hash, document_id
from ragfusion.stores.local import LocalStore

SCIFACT = Path("/work/shared/data/scifact/corpus.jsonl")
FILES = 300
ROUNDS = 12
CHANGED_PER_ROUND = 60
MAX_KILL_DELAY_S = 0.25
SEED = int(os.environ.get("RAGFUSION_CRASH_SEED", "1729"))


def _texts(n: int) -> list[str]:
    """Real abstracts when the shared data is there, generated paragraphs otherwise."""
    if SCIFACT.is_file():
        texts = []
        with SCIFACT.open(encoding="utf-8") as handle:
            for _, line in zip(range(n), handle, strict=False):
                record = json.loads(line)
                texts.append(f"{record['title']}\n\n{record['text']}")
        if len(texts) == n:
            return texts
    rng = random.Random(SEED)
    words = [f"w{i}" for i in range(3000)]
    return [
        "\n\n".join(" ".join(rng.choices(words, k=90)) + "." for _ in range(rng.randint(1, 6)))
        for _ in range(n)
    ]


class Worker:
    """One ingest subprocess; its stdout lines arrive on a queue."""

    def __init__(self, index: Path, corpus: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_worker", str(index), str(corpus), "16", "12"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str | None] = []  # lines already taken off the queue
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_ready(self) -> None:
        assert self.lines.get(timeout=30) == "ready"

    def wait_commits(self, n: int) -> None:
        """Block until the worker has reported ``n`` commits (or has ended)."""
        commits = 0
        while commits < n:
            line = self.lines.get(timeout=60)
            self.seen.append(line)
            if line is None or line == "done":
                return
            commits += 1

    def finish(self) -> tuple[list[list[tuple[str, str]]], bool, str]:
        """The commits it reported, whether it printed ``done``, and its stderr."""
        self.proc.wait(timeout=60)
        commits, done = [], False
        lines = list(self.seen)
        if None not in lines:  # the rest of its output, up to the end of the stream
            while (more := self.lines.get(timeout=10)) is not None:
                lines.append(more)
        for line in lines:
            if line is None:
                break
            if line == "done":
                done = True
            else:
                commits.append([tuple(pair) for pair in json.loads(line)])
        assert self.proc.stderr is not None
        return commits, done, self.proc.stderr.read()


def _verify(index: Path, versions: dict[str, list[str]], durable: dict[str, int]) -> None:
    """The index is consistent, holds every durable version (or a newer one), and each
    document's chunks are exactly those of its stored text (no half-applied update)."""
    with Pipeline.open(index, PipelineConfig(), embedder=HashEmbedder(), create=False) as pipe:  # type: ignore[arg-type]
        report = pipe.store.check()
        assert report.ok, report
        for source, version in durable.items():
            doc_id = document_id(source)
            stored = pipe.store.content_hash_of(doc_id)
            assert stored in versions[source][version:], f"lost commit of {source}"
        for info in pipe.documents():
            document = pipe.document(info.doc_id)
            assert document is not None
            expected = {c.chunk_id for c in pipe.chunker.split(document)}
            assert pipe.store.chunk_ids_of(info.doc_id) == expected, info.source
        some = sorted(durable)[:: max(1, len(durable) // 20)]
        for source in some:  # searchable: its own opening words find it
            stored_doc = pipe.document(document_id(source))
            assert stored_doc is not None
            words = " ".join(stored_doc.text.split()[:40])
            hits = pipe.search(words, k=10).hits
            assert document_id(source) in {h.chunk.doc_id for h in hits}, words


def test_sigkill_during_ingest_loses_nothing_and_resumes(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    versions: dict[str, list[str]] = {}  # source -> content hashes it has had, oldest first

    def write(path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        versions.setdefault(str(path.resolve()), []).append(content_hash(text.encode()))

    texts = _texts(FILES)
    files = [corpus / f"part{i % 3}" / f"doc{i:04d}.txt" for i in range(FILES)]
    for folder in {f.parent for f in files}:
        folder.mkdir(parents=True)
    for path, text in zip(files, texts, strict=True):
        write(path, text)

    durable: dict[str, int] = {}  # source -> index of the newest version reported durable
    kills = inconsistent = verified = 0
    started = time.monotonic()
    for round_no in range(ROUNDS):
        if round_no:  # edits: prepend a line (shifts every chunk) or rewrite the text
            for path in rng.sample(files, CHANGED_PER_ROUND):
                old = path.read_text(encoding="utf-8")
                new = f"Revision {round_no}.\n" + old if rng.random() < 0.5 else old[::-1]
                write(path, new)
        worker = Worker(index, corpus)
        worker.wait_ready()
        # The kill point follows the worker's progress, not the clock, so a fast machine
        # cannot finish before it: after 0-2 commits, then a moment into the next phase.
        worker.wait_commits(rng.randint(0, 2))
        time.sleep(rng.uniform(0.0, MAX_KILL_DELAY_S))
        if worker.proc.poll() is None:
            worker.proc.send_signal(signal.SIGKILL)
            kills += 1
        commits, done, stderr = worker.finish()
        assert done or worker.proc.returncode == -signal.SIGKILL, stderr
        for commit in commits:
            for source, digest in commit:
                durable[source] = max(durable.get(source, 0), versions[source].index(digest))
        if round_no % 2 == 0 and (index / "catalog.sqlite3").exists():
            # Before opening normally: did the kill leave the derived indexes behind?
            raw = LocalStore(index, HashEmbedder().dim, recover=False)
            inconsistent += not raw.check().ok
            raw.close()
            _verify(index, versions, durable)
            verified += 1
        # Odd rounds: the next worker opens the index first (and repairs it if needed).

    final = Worker(index, corpus)
    final.wait_ready()
    _, done, stderr = final.finish()
    assert done, stderr
    latest = {source: len(hashes) - 1 for source, hashes in versions.items()}
    _verify(index, versions, latest)
    elapsed = time.monotonic() - started
    print(
        f"\n{kills} SIGKILLs in {ROUNDS} runs over {FILES} files ({verified} checked, "
        f"{inconsistent} left the derived indexes behind and were repaired on open); "
        f"{len(durable)} documents reported durable, none lost; {elapsed:.1f}s"
    )
    assert kills >= ROUNDS * 2 // 3


def test_check_reports_what_opening_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ragfusion import pipeline
    from ragfusion.cli import app

    index = tmp_path / "index"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, text in enumerate(_texts(3)):
        (corpus / f"d{i}.txt").write_text(text, encoding="utf-8")
    with Pipeline.open(index, PipelineConfig(), embedder=HashEmbedder()) as pipe:  # type: ignore[arg-type]
        pipe.ingest([corpus])
        store = pipe.store
        assert isinstance(store, LocalStore)
        # A writer that died after SQLite committed, before the derived indexes did.
        store._catalog.begin()
        store._catalog.set_meta("derived_pending", "1")
        store._catalog.commit()
        store._bm25.remove(sorted(store._catalog.all_keys())[:2])
        store._bm25.commit()
    monkeypatch.setattr(pipeline, "make_embedder", lambda *a, **k: HashEmbedder())
    result = CliRunner().invoke(app, ["check", "--index", str(index)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["ok"] and shown["repaired_on_open"]["missing_bm25"] == 2
