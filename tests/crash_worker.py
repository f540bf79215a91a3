"""A subprocess for tests/test_crash_safety.py: ingest a folder, report every commit.

    python -m tests.crash_worker INDEX CORPUS COMMIT_EVERY EMBED_BATCH

Prints ``ready`` once imports are done, then one JSON line per store commit listing the
(source, content hash) pairs that commit made durable, then ``done``. The parent kills it
with SIGKILL at a random moment and checks that every reported commit survived.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import HashEmbedder

from ragfusion import Pipeline, PipelineConfig


def main(index: str, corpus: str, commit_every: int, embed_batch: int) -> None:
    print("ready", flush=True)
    config = PipelineConfig(commit_every_chunks=commit_every, embed_batch=embed_batch)
    with Pipeline.open(Path(index), config, embedder=HashEmbedder()) as pipe:  # type: ignore[arg-type]
        store = pipe.store
        staged: list[tuple[str, str]] = []
        upsert, commit = store.upsert, store.commit

        def recording_upsert(document: Any, *args: Any) -> Any:
            result = upsert(document, *args)
            staged.append((document.source, document.content_hash))
            return result

        def reporting_commit() -> None:
            commit()
            print(json.dumps(staged), flush=True)
            staged.clear()

        store.upsert = recording_upsert  # type: ignore[method-assign]
        store.commit = reporting_commit  # type: ignore[method-assign]
        pipe.ingest([corpus])
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
