"""Peak RSS and throughput of a real ingest: the first N SciFact documents through
``Pipeline.ingest_records`` (load, chunk, embed on the default backend, index), with the
embedding model loaded before the clock starts.

    .venv/bin/python benchmarks/ingest_memory.py [N]     # default 1000 (~1.5 min); prints JSON
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def _peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ragfusion import Pipeline
    from ragfusion.evaluation.beir import load_collection

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    collection = load_collection(SCIFACT)
    index = Path(tempfile.mkdtemp(prefix="ragfusion-ingest-memory-"))
    try:
        with Pipeline.open(index) as pipe:
            pipe.embedder.embed_queries(["warm-up"])  # the model load is not ingest
            before = _peak_rss_mb()
            started = time.perf_counter()
            report = pipe.ingest_records(collection.corpus[:n])
            seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(index, ignore_errors=True)
    print(
        json.dumps(
            {
                "documents": n,
                "chunks": report.chunks_added,
                "seconds": round(seconds, 1),
                "chunks_per_s": round(report.chunks_added / seconds, 1),
                "peak_rss_mb_before_ingest": before,
                "peak_rss_mb": _peak_rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    main()
