"""`ragfusion chat` in the terminal, with the real models: a follow-up uses the history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.models


def test_terminal_chat_follow_up_and_resume(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "ragfusion"]
    index = tmp_path / "index"
    subprocess.run([*cli, "ingest", str(EXAMPLES), "--index", str(index)], check=True)
    lines = "How often should I replace the HEPA filter?\nHow do I reset its light?\n/quit\n"
    done = subprocess.run(
        [*cli, "chat", "--index", str(index), "--extractive"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert done.stdout.count("bot> ") == 2
    assert "Sources" in done.stdout
    assert "(searching:" in done.stderr  # the follow-up was made standalone
    searched = done.stderr.split("(searching:")[1].split(")")[0].lower()
    assert "filter" in searched and "light" in searched
    conversation = done.stderr.strip().rsplit("conversation id: ", 1)[1].split()[0]
    resumed = subprocess.run(
        [*cli, "chat", "--index", str(index), "--conversation", conversation, "--extractive"],
        input="And how long does the filter last?\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "bot> " in resumed.stdout
    missing = subprocess.run(
        [*cli, "chat", "--index", str(index), "--conversation", "nope"],
        input="",
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and "No conversation" in missing.stderr
