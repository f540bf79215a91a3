"""Rebuild the SQuAD 2.0 sample (corpus.jsonl, questions.jsonl) from a SQuAD 2.0 JSON file.

    python build_sample.py dev-v2.0.json [--out DIR]

Standard library only and deterministic (random.Random(13)). The input is a file in the
official layout (data -> paragraphs -> qas with id, question, answers, is_impossible). Answers
without answer_start (the explorer reconstruction, see SOURCE.md) are located in the paragraph.

The draw, in this order from one generator seeded with 13:
  1. up to ARTICLES articles (sorted sample; with the 35 dev articles that is all of them);
  2. PARAGRAPHS paragraphs spread over them: PARAGRAPHS // n each, one more for a sample of
     PARAGRAPHS % n articles;
  3. the paragraphs of each article (sorted sample), articles in file order;
  4. per paragraph up to MAX_ANSWERABLE answerable and MAX_UNANSWERABLE unanswerable
     questions (sorted samples), kept in file order.
Split by article: every third selected article (positions 0, 3, 6, ...) is "train", the rest "test".
"""

from __future__ import annotations

import argparse
import json
import random
import re
import unicodedata
from pathlib import Path

SEED = 13
ARTICLES = 40
PARAGRAPHS = 120
MAX_ANSWERABLE = 3
MAX_UNANSWERABLE = 1

_ABBREV = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "jr",
    "sr",
    "vs",
    "no",
    "co",
    "inc",
    "ltd",
    "mt",
    "ft",
    "gen",
    "col",
    "lt",
    "sgt",
    "capt",
    "rev",
    "prof",
    "e.g",
    "i.e",
    "etc",
    "approx",
    "fig",
    "vol",
    "c",
    "ca",
    "rep",
    "sen",
    "gov",
    "pres",
    "hon",
    "dept",
    "univ",
    "est",
    "cf",
    "al",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "corp",
    "bros",
    "ph.d",
}
_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_STOP = set(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "do",
        "does",
        "that",
        "this",
        "these",
        "those",
        "as",
        "it",
        "its",
        "his",
        "her",
        "their",
        "they",
        "he",
        "she",
        "than",
        "into",
    ]
)


def slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def sentence_starts(text: str) -> list[int]:
    """Offsets where sentences start, plus len(text): split after . ! ? and whitespace
    before a capital or digit, except after common abbreviations and initials."""
    starts = [0]
    for m in _BOUNDARY.finditer(text):
        word = text[: m.start() + 1].split()[-1].lower().rstrip(".").lstrip("(\"'[")
        if word in _ABBREV or re.fullmatch(r"[a-z]|(?:[a-z]\.)+[a-z]", word):
            continue
        starts.append(m.end())
    return [*starts, len(text)]


def evidence(text: str, start: int, length: int) -> str:
    """The sentence holding `start`, extended over any sentence the answer runs into."""
    b = sentence_starts(text)
    first = max(i for i in range(len(b) - 1) if b[i] <= start)
    last = first
    while last + 1 < len(b) - 1 and b[last + 1] < start + length:
        last += 1
    return text[b[first] : b[last + 1]].strip()


def _words(s: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", s.lower()) if w not in _STOP}


def locate(text: str, answers: list[str], question: str) -> int:
    """answer_start for answers[0] when the file lacks it: the only occurrence, else the one whose
    sentence shares most words with the question, then most other gold answers overlapping, then
    the earliest."""
    first = answers[0]
    hits = [m.start() for m in re.finditer(re.escape(first), text)]
    if not hits:
        raise ValueError(f"answer {first!r} not in paragraph")
    b = sentence_starts(text)
    q = _words(question)

    def score(o: int) -> tuple[int, int, int]:
        i = max(j for j in range(len(b) - 1) if b[j] <= o)
        agree = sum(
            any(m.start() < o + len(first) and o < m.end() for m in re.finditer(re.escape(a), text))
            for a in answers[1:]
        )
        return (len(q & _words(text[b[i] : b[i + 1]])), agree, -o)

    return max(hits, key=score)


def build(data: list[dict]) -> tuple[list[dict], list[dict], dict[str, str]]:
    rng = random.Random(SEED)
    picked = sorted(rng.sample(range(len(data)), min(ARTICLES, len(data))))
    n = len(picked)
    extra = set(rng.sample(range(n), PARAGRAPHS % n))
    corpus, questions, splits = [], [], {}
    for pos, ai in enumerate(picked):
        article = data[ai]
        paras = article["paragraphs"]
        k = min(len(paras), PARAGRAPHS // n + (pos in extra))
        split = "train" if pos % 3 == 0 else "test"
        for pi in sorted(rng.sample(range(len(paras)), k)):
            para = paras[pi]
            text = para["context"]
            doc_id = f"{slug(article['title'])}-{pi}"
            corpus.append(
                {"_id": doc_id, "title": article["title"].replace("_", " "), "text": text}
            )
            splits[doc_id] = split
            ans = [i for i, qa in enumerate(para["qas"]) if not qa.get("is_impossible")]
            una = [i for i, qa in enumerate(para["qas"]) if qa.get("is_impossible")]
            keep = set(rng.sample(ans, min(MAX_ANSWERABLE, len(ans))))
            keep |= set(rng.sample(una, min(MAX_UNANSWERABLE, len(una))))
            for qi in sorted(keep):
                qa = para["qas"][qi]
                answerable = not qa.get("is_impossible")
                golds = (
                    list(dict.fromkeys(a["text"].strip() for a in qa["answers"]))
                    if answerable
                    else []
                )
                ev = ""
                if answerable:
                    a0 = qa["answers"][0]
                    start = a0.get("answer_start")
                    if start is None:
                        start = locate(text, [a["text"] for a in qa["answers"]], qa["question"])
                    ev = evidence(text, start, len(a0["text"]))
                questions.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"].strip(),
                        "answers": golds,
                        "answerable": answerable,
                        "doc_id": doc_id,
                        "evidence": ev,
                        "split": split,
                    }
                )
    return corpus, questions, splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="SQuAD 2.0 JSON (e.g. dev-v2.0.json)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    data = json.loads(args.source.read_text(encoding="utf-8"))["data"]
    corpus, questions, splits = build(data)
    for name, rows in (("corpus.jsonl", corpus), ("questions.jsonl", questions)):
        with (args.out / name).open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    titles = {c["_id"]: c["title"] for c in corpus}
    print(
        f"{len(corpus)} paragraphs, {len(set(titles.values()))} articles, "
        f"{len(questions)} questions, "
        f"{sum(not q['answerable'] for q in questions)} unanswerable"
    )
    for split in ("train", "test"):
        docs = [d for d, s in splits.items() if s == split]
        qs = [q for q in questions if q["split"] == split]
        print(
            f"  {split}: {len({titles[d] for d in docs})} articles, {len(docs)} paragraphs, "
            f"{len(qs)} questions, {sum(not q['answerable'] for q in qs)} unanswerable"
        )


if __name__ == "__main__":
    main()
