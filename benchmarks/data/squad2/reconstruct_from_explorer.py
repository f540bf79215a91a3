"""Rebuild SQuAD 2.0 dev-v2.0.json (official layout) from the official SQuAD explorer pages.

    # from an exported folder (a clone of rajpurkar/SQuAD-explorer, branch gh-pages):
    python reconstruct_from_explorer.py SQuAD-explorer/explore/v2.0/dev dev-v2.0.explorer.json \
        --starts squad2controlled/dev-v2.0.json chrischute-squad/data/dev-v2.0.json
    # or straight from a git directory, without a work tree:
    python reconstruct_from_explorer.py explore/v2.0/dev dev-v2.0.explorer.json \
        --git-dir SQuAD-explorer/.git --rev e0c66cfec263165fb3c15cb76a22175e371b71d7 \
        --starts ...

Standard library only. The explorer (`explore/v2.0/dev/`) has `index.html`, which lists the
articles in file order, and one page per article with its title (`h1#title`), its paragraphs
(`div.para-wrap`, the context in `pre`) and per question (`div.qa-wrap`, id in `data-id`) the
question text (`strong.question`), every annotator answer (`span.answer`) or a no-answer mark
(`span.no-answer`). The output is `{"version": "v2.0", "data": [...]}` in the official key order
(title, paragraphs; qas, context; question, id, answers, is_impossible; text, answer_start),
written as UTF-8 by `json.dumps(..., ensure_ascii=False)` (default separators, no indent, no
trailing newline). With the SOURCE.md inputs its sha256 is
f0282ac57b1810363a3bb0d863c692df045e4917a8e44ff9fefa9b807dbd1f45.

The pages carry neither `answer_start` nor `plausible_answers`. `plausible_answers` is left
out. `answer_start` is copied from the `--starts` files (copies in the official layout, ids may
be re-hashed): a paragraph takes them only when a copy has a paragraph with the same title and
context whose question texts and answer texts are identical, in the same order; questions are
matched by position. Elsewhere answers are `{"text": ...}` only. If two copies both match a
paragraph, their offsets must agree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

Reader = Callable[[str], str]


class _IndexParser(HTMLParser):
    """Article page names from the dataset list of index.html (links `a.inverseBtn`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pages: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and "inverseBtn" in (a.get("class") or "").split():
            path = urlsplit(a.get("href") or "").path
            if path.endswith(".html"):
                self.pages.append(unquote(path.rsplit("/", 1)[-1]))


class _ArticleParser(HTMLParser):
    """Title, contexts and questions of one article page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.paragraphs: list[dict] = []
        self._field: str | None = None  # title, context, question, answer, no-answer
        self._buf: list[str] = []
        self._qa: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "h1" and a.get("id") == "title":
            self._start("title")
        elif tag == "div" and "para-wrap" in classes:
            self.paragraphs.append({"qas": [], "context": None})
        elif tag == "pre" and self.paragraphs and self.paragraphs[-1]["context"] is None:
            self._start("context")
        elif tag == "div" and "qa-wrap" in classes:
            self._qa = {"question": None, "id": a["data-id"], "answers": [], "no_answer": False}
            self.paragraphs[-1]["qas"].append(self._qa)
        elif tag == "strong" and "question" in classes:
            self._start("question")
        elif tag == "span" and "answer" in classes:
            self._start("answer")
        elif tag == "span" and "no-answer" in classes:
            self._start("no-answer")

    def _start(self, field: str) -> None:
        if self._field is not None:
            raise ValueError(f"nested {field} inside {self._field}")
        self._field, self._buf = field, []

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._buf.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._field is None:
            return
        end = {"title": "h1", "context": "pre", "question": "strong"}.get(self._field, "span")
        if tag != end:
            raise ValueError(f"unexpected </{tag}> inside {self._field}")
        text, field = "".join(self._buf), self._field
        self._field = None
        if field == "title":
            self.title = text
        elif field == "context":
            self.paragraphs[-1]["context"] = text
        elif self._qa is None:
            raise ValueError(f"{field} outside a question")
        elif field == "question":
            self._qa["question"] = text
        elif field == "answer":
            self._qa["answers"].append(text)
        else:
            self._qa["no_answer"] = True


def parse_article(page: str) -> dict:
    """One article in the official layout, answers without answer_start."""
    p = _ArticleParser()
    p.feed(page)
    p.close()
    if p.title is None:
        raise ValueError("page has no h1#title")
    paragraphs = []
    for para in p.paragraphs:
        if para["context"] is None:
            raise ValueError(f"{p.title}: paragraph without context")
        qas = []
        for qa in para["qas"]:
            if qa["question"] is None or qa["no_answer"] == bool(qa["answers"]):
                raise ValueError(f"{p.title}: malformed question {qa['id']}")
            qas.append(
                {
                    "question": qa["question"],
                    "id": qa["id"],
                    "answers": [{"text": t} for t in qa["answers"]],
                    "is_impossible": qa["no_answer"],
                }
            )
        paragraphs.append({"qas": qas, "context": para["context"]})
    return {"title": p.title, "paragraphs": paragraphs}


def folder_reader(folder: Path) -> Reader:
    return lambda name: (folder / name).read_text(encoding="utf-8")


def git_reader(git_dir: Path, rev: str, folder: str) -> Reader:
    def read(name: str) -> str:
        spec = f"{rev}:{folder.strip('/')}/{name}"
        out = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", spec], capture_output=True, check=True
        )
        return out.stdout.decode("utf-8")

    return read


def reconstruct(read: Reader) -> list[dict]:
    index = _IndexParser()
    index.feed(read("index.html"))
    index.close()
    if not index.pages or len(set(index.pages)) != len(index.pages):
        raise ValueError(f"index.html: bad article list {index.pages}")
    return [parse_article(read(name)) for name in index.pages]


def _signature(para: dict) -> list:
    return [(qa["question"], [a["text"] for a in qa["answers"]]) for qa in para["qas"]]


def copy_starts(data: list[dict], copies: list[Path]) -> tuple[int, int]:
    """Copy answer_start from the copies into matching paragraphs. Returns (paragraphs,
    answerable questions) that got offsets."""
    found: dict[tuple[str, str], list[list[list[int]]]] = {}
    for path in copies:
        copy = json.loads(path.read_text(encoding="utf-8"))["data"]
        seen: dict[tuple[str, str], dict] = {}
        for article in copy:
            for para in article["paragraphs"]:
                seen.setdefault((article["title"], para["context"]), para)
        for article in data:
            for para in article["paragraphs"]:
                other = seen.get((article["title"], para["context"]))
                if other is None or _signature(other) != _signature(para):
                    continue
                starts = [[a["answer_start"] for a in qa["answers"]] for qa in other["qas"]]
                key = (article["title"], para["context"])
                if key in found and found[key] != starts:
                    raise ValueError(f"{path}: answer_start disagrees in {article['title']}")
                found[key] = starts
    paragraphs = questions = 0
    for article in data:
        for para in article["paragraphs"]:
            starts = found.get((article["title"], para["context"]))
            if starts is None:
                continue
            paragraphs += 1
            for qa, qa_starts in zip(para["qas"], starts, strict=True):
                questions += not qa["is_impossible"]
                for a, s in zip(qa["answers"], qa_starts, strict=True):
                    a["answer_start"] = s
    return paragraphs, questions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", help="explore/v2.0/dev folder (inside the repo with --git-dir)")
    ap.add_argument("out", type=Path, help="output JSON, e.g. dev-v2.0.explorer.json")
    ap.add_argument("--git-dir", type=Path, help="read the pages from this git directory")
    ap.add_argument("--rev", default="gh-pages", help="commit or branch with --git-dir")
    ap.add_argument("--starts", type=Path, nargs="*", default=[], help="copies for answer_start")
    args = ap.parse_args()
    if args.git_dir is not None:
        read = git_reader(args.git_dir, args.rev, args.pages)
    else:
        read = folder_reader(Path(args.pages))
    data = reconstruct(read)
    with_starts = copy_starts(data, args.starts)
    text = json.dumps({"version": "v2.0", "data": data}, ensure_ascii=False)
    args.out.write_text(text, encoding="utf-8")
    qas = [qa for a in data for p in a["paragraphs"] for qa in p["qas"]]
    answerable = sum(not qa["is_impossible"] for qa in qas)
    print(
        f"{len(data)} articles, {sum(len(a['paragraphs']) for a in data)} paragraphs, "
        f"{len(qas)} questions ({len({qa['id'] for qa in qas})} distinct ids), "
        f"{len(qas) - answerable} unanswerable; answer_start copied for "
        f"{with_starts[0]} paragraphs, {with_starts[1]} of {answerable} answerable questions",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
