"""Background ingest of uploaded files: one worker thread, jobs in order, progress to poll.

One writer at a time keeps the index consistent; searches keep running meanwhile.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragfusion.serialize import ingest_json

if TYPE_CHECKING:
    from ragfusion.pipeline import IngestProgress, Pipeline

_KEEP_FINISHED = 1000  # finished jobs remembered for polling


@dataclass
class Job:
    id: str
    files: list[Path]
    status: str = "queued"  # queued, running, done, failed
    files_done: int = 0
    chunks_added: int = 0
    current: str = ""
    report: dict[str, Any] | None = None
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "files_total": len(self.files),
            "files_done": self.files_done,
            "chunks_added": self.chunks_added,
            "current": Path(self.current).name if self.current else "",
            "report": self.report,
            "error": self.error,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }


class IngestJobs:
    def __init__(self, pipe: Pipeline) -> None:
        self._pipe = pipe
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="ingest-jobs", daemon=True)
        self._worker.start()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def submit(self, job_id: str, files: list[Path]) -> Job:
        job = Job(job_id, files)
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.finished_at is not None]
            for old in sorted(finished, key=lambda j: j.created_at)[:-_KEEP_FINISHED]:
                del self._jobs[old.id]
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=60)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job.status = "running"

            def progress(p: IngestProgress, job: Job = job) -> None:
                job.files_done, job.chunks_added, job.current = (
                    p.files_done,
                    p.chunks_added,
                    p.current,
                )

            try:
                report = self._pipe.ingest(job.files, progress=progress)
                job.report = ingest_json(report)
                job.chunks_added = report.chunks_added
                job.status = "done"
            except Exception as exc:  # reported to the client; the service keeps running
                job.error = f"{type(exc).__name__}: {exc}"
                job.status = "failed"
            job.finished_at = time.time()
