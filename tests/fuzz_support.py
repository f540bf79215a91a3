"""Fuzzing in two modes: reproducible in the test suite, open-ended in ``make fuzz``.

The suite (hypothesis profile ``ci``, the default) is derandomized and keeps no example
database, so one commit gives one result on every machine. ``make fuzz`` (profile
``fuzz``, see scripts/fuzz.sh) draws new random inputs each round, counts the cases it
runs, and saves each minimal failing input under ``tests/fuzz-regressions/``, where the
suite replays it from then on (tests/test_fuzz_regressions.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import settings

PROFILE = os.environ.get("RAGFUSION_HYPOTHESIS_PROFILE", "ci")
FUZZING = PROFILE == "fuzz"
REGRESSIONS = Path(__file__).resolve().parent / "fuzz-regressions"
LOADER_REGRESSIONS = REGRESSIONS / "loaders"
HTTP_REGRESSIONS = REGRESSIONS / "http"
SCALE = float(os.environ.get("RAGFUSION_FUZZ_SCALE", "1"))

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, database=None, print_blob=True)
settings.load_profile(PROFILE)

cases_run = 0


def examples(n: int) -> int:
    """A bounded example count, scaled up for long fuzz runs."""
    return max(1, int(n * SCALE))


def count_case() -> None:
    global cases_run
    cases_run += 1


def _is_final_run() -> bool:
    """Whether hypothesis is replaying its minimal failing example (the one worth saving)."""
    try:
        from hypothesis.control import current_build_context

        return bool(current_build_context().is_final)
    except Exception:  # outside a test, or an internal API that moved
        return True


def save_loader_regression(suffix: str, data: bytes) -> Path | None:
    """In fuzz mode, keep a minimal failing loader input for the suite to replay."""
    if not FUZZING or not _is_final_run():
        return None
    LOADER_REGRESSIONS.mkdir(parents=True, exist_ok=True)
    path = LOADER_REGRESSIONS / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    path.write_bytes(data)
    return path


def save_http_regression(request: dict[str, Any]) -> Path | None:
    """In fuzz mode, keep a minimal failing request (method, path, query, body)."""
    if not FUZZING or not _is_final_run():
        return None
    HTTP_REGRESSIONS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(request, sort_keys=True, default=repr)
    path = HTTP_REGRESSIONS / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    path.write_text(text + "\n")
    return path


def write_count(path: str) -> None:
    Path(path).write_text(str(cases_run))
