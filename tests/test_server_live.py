"""The service as a user runs it: `ragfusion serve` in its own process with the real bundled
models, driven over loopback with httpx and through the web page in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import EXAMPLES, ROOT
from tests.server_harness import free_port, sse_events

pytestmark = pytest.mark.models
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
# The sample knowledge base answers this (examples/questions.jsonl).
QUESTION = "How often should I replace the HEPA filter?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    index = tmp_path_factory.mktemp("live") / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cli = [sys.executable, "-m", "ragfusion"]
    subprocess.run([*cli, "ingest", str(EXAMPLES), "--index", str(index)], env=env, check=True)
    port = free_port()
    log = (tmp_path_factory.mktemp("logs") / "serve.log").open("w")
    process = subprocess.Popen(
        [*cli, "serve", "--index", str(index), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, "ragfusion serve exited; see " + log.name
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ragfusion serve did not come up"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_streamed_answer_cites_the_sources(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as http:
        response = http.post("/v1/ask", json={"question": QUESTION, "stream": True})
        events = sse_events(response)
        kinds = [name for name, _ in events]
        assert kinds[0] == "queries" and kinds[1] == "hits" and kinds[-1] == "done", kinds
        assert kinds.count("token") >= 3
        answer = json.loads(events[-1][1])
        assert answer["citations"], answer
        for citation in answer["citations"]:
            doc = http.get(f"/v1/documents/{citation['doc_id']}").json()
            assert doc["text"][citation["start"] : citation["end"]] == citation["text"]


def test_follow_up_is_made_standalone(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as http:
        first = http.post("/v1/chat", json={"message": QUESTION, "extractive": True}).json()
        follow = http.post(
            "/v1/chat",
            json={
                "message": "And how do I reset its indicator light?",
                "conversation_id": first["conversation"]["id"],
                "extractive": True,
            },
        ).json()
        standalone = follow["conversation"]["standalone"].lower()
        assert follow["conversation"]["how"] in ("llm", "context")
        assert "filter" in standalone, standalone
        assert any("light" in h["text"].lower() for h in follow["hits"])


def test_off_topic_question_gets_i_dont_know(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as http:
        body = http.post(
            "/v1/ask", json={"question": "Who won the football world cup in 1998?"}
        ).json()
        assert body["mode"] == "abstain" and "don't know" in body["answer"]
        assert body["evidence"] < 0.455 and not body["citations"]


def test_openai_client_contract(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as http:
        reply = http.post(
            "/v1/chat/completions",
            json={"model": "ragfusion", "messages": [{"role": "user", "content": QUESTION}]},
        ).json()
        assert reply["choices"][0]["message"]["content"].strip()
        assert reply["citations"]


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium); CI installs it",
)
def test_web_page_in_a_real_browser(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM, "Chromium is required in CI: apt-get install chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(server + "/")
            expect(page.locator("#status")).to_contain_text("documents", timeout=10_000)
            page.fill("#question", QUESTION)
            page.press("#question", "Enter")
            answer = page.locator(".msg.bot[data-done=true]")
            expect(answer).to_have_count(1, timeout=120_000)
            citation = answer.locator("button.cite").first
            expect(citation).to_be_visible()
            citation.click()
            mark = page.locator("#passage mark#cited-span")
            expect(mark).to_be_visible()
            assert mark.inner_text().strip()
            # The default answer quotes its source: clicking the sentence highlights exactly
            # the characters it was quoted from.
            sentence = answer.locator(".sentence").first
            expect(sentence).to_have_attribute("data-status", "quoted")
            sentence.click(position={"x": 2, "y": 2})
            expect(page.locator("#passage-meta")).to_contain_text("quoted from the source")
            quoted = sentence.inner_text().rsplit("[", 1)[0].strip()
            assert " ".join(mark.inner_text().split()) == " ".join(quoted.split())
            # A generated answer is checked sentence by sentence, and says so per sentence.
            page.select_option("#mode", "generative")
            page.fill("#question", "What does error E4 mean?")
            page.press("#question", "Enter")
            written = page.locator(".msg.bot[data-done=true]")
            expect(written).to_have_count(2, timeout=120_000)
            statuses = (
                written.nth(1)
                .locator(".sentence")
                .evaluate_all("nodes => nodes.map(n => n.dataset.status)")
            )
            assert statuses and set(statuses) <= {"quoted", "checked", "replaced", "unverified"}
            for flagged in written.nth(1).locator(".sentence.replaced, .sentence.unverified").all():
                assert flagged.get_attribute("title")
                expect(flagged.locator("xpath=following-sibling::span[1]")).to_have_class(
                    re.compile(r"\bflag\b")
                )
            page.click("nav button[data-tab=provenance]")
            expect(page.locator("#provenance table tr")).not_to_have_count(1)
            page.click("nav button[data-tab=passage]")
            page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
            page.click("nav button[data-tab=documents]")
            expect(page.locator("#documents li")).to_have_count(12)
        finally:
            browser.close()
