"""Convert classic IR test collections from fetched GitHub mirrors into BEIR layout.

Each collection is read straight from a bare mirror git directory (``git show
<commit>:<path>``; nothing is checked out and no fetched code is run) and written to
``benchmarks/.cache/collections/<name>/`` (gitignored):

* ``corpus.jsonl``    -- ``{"_id", "title", "text", "metadata"}``
* ``queries.jsonl``   -- ``{"_id", "text", "metadata"}`` (every query of the collection)
* ``qrels/test.tsv``  -- header ``query-id<TAB>corpus-id<TAB>score``; only queries with at
  least one relevant document, only documents that exist in the corpus
* ``SOURCE.json``     -- repository, commit, paths, counts, checks and conversion notes

Mirrors are expected where the ``fetch`` tool puts them: ``<mirror>/<owner>+<name>/repo``
(default ``--mirror /work/.mirror``). A missing mirror is reported with the fetch it needs.

    python scripts/collections.py --list          # collections, source repo, commit, paths
    python scripts/collections.py                 # convert all, check counts, print a table
    python scripts/collections.py cacm npl        # only some
"""

from __future__ import annotations

import os
import sys

# This file is named collections.py, and a script's own folder comes first on sys.path: drop
# it so that the standard library's `collections` (used by argparse, json, re) is not shadowed.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / ".cache" / "collections"
DEFAULT_MIRROR = Path("/work/.mirror")

TERM_REPO = "ericlabouve/Term-Proximity-Research"
# Commit that added LISA, NPL and TIME in their original Glasgow/Virginia Tech layout; a later
# commit (b1ff5d6, "Mass upload") rewrote LISA and NPL into .I/.W form, so those are pinned here.
TERM_ORIGINAL = "c5892ffbde4402395655091c6bb14bfdac9d43d0"
# First commit holding CACM (unchanged at HEAD 012f67e).
TERM_CACM = "b1ff5d6abca93e16837b7cd8aaa25b890be69dbe"
# TIME.REL positions (see parse_time).
TIME_DOCS_IN_FILE = 423
TIME_LAST_UNSHIFTED = 370
TIME_FIRST_SHIFTED = 378
CF_REPO = "vdbergg/vector_model"
CF_COMMIT = "bbfac25fdad492022ed1d1fe1d4ecabcd457cf35"

Doc = dict[str, object]
Query = dict[str, object]
Qrels = dict[str, dict[str, int]]


class MirrorError(RuntimeError):
    """A mirror, commit or file that the conversion needs is not on this machine."""


@dataclass(frozen=True)
class Expected:
    """Published sizes to check against; None where no reliable figure is known."""

    docs: int | None = None
    queries: int | None = None
    judged: int | None = None
    pairs: int | None = None
    source: str = ""


@dataclass
class Parsed:
    docs: list[Doc]
    queries: list[Query]
    qrels: Qrels
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    repo: str
    commit: str
    paths: tuple[str, ...]
    parse: Callable[[Callable[[str], str]], Parsed]
    expected: Expected
    licence: str


# --------------------------------------------------------------------------- git access


def git_dir_for(repo: str, mirror: Path) -> Path:
    """The bare git directory of a fetched mirror, or MirrorError saying which fetch to run."""
    base = mirror / repo.replace("/", "+")
    for candidate in (base / "repo", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    raise MirrorError(
        f"mirror of {repo} not found under {mirror} (looked for {base}/repo); "
        f"run the fetch tool with source github:{repo}, then rerun this script"
    )


def git_reader(git_dir: Path, commit: str, repo: str) -> Callable[[str], str]:
    """A function path -> text of that file at `commit` (UTF-8, else Latin-1)."""
    check = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
    )
    if check.returncode != 0:
        raise MirrorError(
            f"commit {commit} of {repo} is not in {git_dir}; the mirror may be a different "
            f"snapshot: run the fetch tool with source github:{repo} again"
        )

    def read(path: str) -> str:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], capture_output=True
        )
        if done.returncode != 0:
            raise MirrorError(
                f"{repo}@{commit[:7]}:{path} cannot be read ({done.stderr.decode().strip()}); "
                "files of 4 MiB or more are absent from fetched snapshots"
            )
        try:
            text = done.stdout.decode("utf-8")
        except UnicodeDecodeError:
            text = done.stdout.decode("latin-1")
        return text.replace("\r\n", "\n").replace("\r", "\n")

    return read


# --------------------------------------------------------------------------- helpers


def squash(text: str) -> str:
    """Collapse runs of whitespace (the classic files are hard-wrapped at ~70 columns)."""
    return " ".join(text.split())


def norm_id(raw: str) -> str:
    """Numeric ids without leading zeros ('007' -> '7'); other ids unchanged."""
    raw = raw.strip()
    return str(int(raw)) if raw.isdigit() else raw


def make_doc(doc_id: str, title: str, body: str, metadata: dict[str, str]) -> Doc:
    """BEIR document. Text falls back to the title when the record has no body."""
    title, body = squash(title), squash(body)
    meta = {k: squash(v) for k, v in metadata.items() if squash(v)}
    if not body:
        body = title
        meta["text_is_title"] = "true"
    return {"_id": doc_id, "title": title, "text": body, "metadata": meta}


SMART_FIELD = re.compile(r"^\.([A-Z])(?:\s+(.*))?$")


def parse_smart(text: str) -> list[tuple[str, dict[str, str]]]:
    """SMART-format records: '.I <id>' then fields '.T', '.A', '.W', ... until the next '.I'."""
    records: list[tuple[str, dict[str, str]]] = []
    fields: dict[str, list[str]] = {}
    current: str | None = None
    record_id: str | None = None

    def flush() -> None:
        if record_id is not None:
            records.append((record_id, {k: "\n".join(v) for k, v in fields.items()}))

    for line in text.split("\n"):
        match = SMART_FIELD.match(line.rstrip())
        if match:
            tag, rest = match.group(1), (match.group(2) or "").strip()
            if tag == "I":
                flush()
                record_id, fields, current = norm_id(rest), {}, None
                continue
            current = tag
            fields.setdefault(tag, [])
            if rest:
                fields[tag].append(rest)
            continue
        if current is not None:
            fields[current].append(line)
    flush()
    return records


def int_tokens(text: str) -> list[int]:
    return [int(t) for t in text.split()]


def qrels_from_pairs(pairs: Iterable[tuple[str, str, int]]) -> Qrels:
    qrels: Qrels = {}
    for qid, doc_id, score in pairs:
        grades = qrels.setdefault(qid, {})
        grades[doc_id] = max(score, grades.get(doc_id, score))
    return qrels


def count_pairs(raw: Iterable[tuple[str, str, int]]) -> tuple[list[tuple[str, str, int]], int]:
    """The pairs as a list and how many (query, doc) repeats they contain."""
    pairs = list(raw)
    return pairs, len(pairs) - len({(q, d) for q, d, _ in pairs})


# --------------------------------------------------------------------------- collections


def parse_cacm(read: Callable[[str], str]) -> Parsed:
    docs = [
        make_doc(
            rid,
            f.get("T", ""),
            f.get("W", ""),
            {"authors": f.get("A", ""), "published": f.get("B", "")},
        )
        for rid, f in parse_smart(read("datasets/cacm/cacm.all"))
    ]
    queries: list[Query] = []
    for rid, f in parse_smart(read("datasets/cacm/query.text")):
        meta = {"authors": squash(f.get("A", "")), "requester": squash(f.get("N", ""))}
        queries.append(
            {
                "_id": rid,
                "text": squash(f.get("W", "")),
                "metadata": {k: v for k, v in meta.items() if v},
            }
        )
    raw = []
    for line in read("datasets/cacm/qrels.text").split("\n"):
        parts = line.split()
        if len(parts) >= 2:
            raw.append((norm_id(parts[0]), norm_id(parts[1]), 1))
    pairs, repeats = count_pairs(raw)
    notes = [
        "title=.T, text=.W abstract (title when there is none), authors/date in metadata; "
        "query text=.W (the .A author list of 2 queries is kept in metadata only)",
        "qrels.text is binary (qid did 0 0) -> score 1",
    ]
    if repeats:
        notes.append(f"{repeats} repeated pairs in qrels.text merged")
    return Parsed(docs, queries, qrels_from_pairs(pairs), notes)


def smart_collection(
    read: Callable[[str], str],
    all_path: str,
    qry_path: str,
    rel_path: str,
    rel_columns: tuple[int, int],
) -> Parsed:
    docs = [
        make_doc(rid, f.get("T", ""), f.get("W", ""), {"authors": f.get("A", "")})
        for rid, f in parse_smart(read(all_path))
    ]
    queries: list[Query] = []
    for rid, f in parse_smart(read(qry_path)):
        meta = {"title": squash(f.get("T", "")), "authors": squash(f.get("A", ""))}
        queries.append(
            {
                "_id": rid,
                "text": squash(f.get("W", "")),
                "metadata": {k: v for k, v in meta.items() if v},
            }
        )
    qcol, dcol = rel_columns
    raw = []
    for line in read(rel_path).split("\n"):
        parts = line.split()
        if len(parts) > max(qcol, dcol):
            raw.append((norm_id(parts[qcol]), norm_id(parts[dcol]), 1))
    pairs, repeats = count_pairs(raw)
    notes = ["title=.T (empty if absent), text=.W; query text=.W; binary qrels -> score 1"]
    if repeats:
        notes.append(f"{repeats} repeated pairs in {rel_path} merged")
    return Parsed(docs, queries, qrels_from_pairs(pairs), notes)


def parse_cisi(read: Callable[[str], str]) -> Parsed:
    parsed = smart_collection(
        read, "datasets/cisi/CISI.ALL", "datasets/cisi/CISI.QRY", "datasets/cisi/CISI.REL", (0, 1)
    )
    parsed.notes.append(
        "55 of the 112 queries also carry .T/.A/.B (a bibliographic seed); only .W is the "
        "query text, .T/.A go to metadata"
    )
    return parsed


def parse_med(read: Callable[[str], str]) -> Parsed:
    parsed = smart_collection(
        read, "datasets/med/MED.ALL", "datasets/med/MED.QRY", "datasets/med/MED.REL", (0, 2)
    )
    parsed.notes.append("MED.ALL has no titles (the first sentence of .W is the title)")
    return parsed


def parse_adi(read: Callable[[str], str]) -> Parsed:
    return smart_collection(
        read, "datasets/adi/ADI.ALL", "datasets/adi/ADI.QRY", "datasets/adi/ADI.REL", (0, 1)
    )


LISA_FILES = tuple(f"datasets/lisa/LISA{n}" for n in (
    "0.001", "0.501", "1.001", "1.501", "2.001", "2.501", "3.001", "3.501",
    "4.001", "4.501", "5.001", "5.501", "5.627", "5.850",
))  # fmt: skip


LISA_DOCS = 6004


def parse_lisa(read: Callable[[str], str]) -> Parsed:
    docs: list[Doc] = []
    orphans: list[str] = []
    for path in LISA_FILES:
        for block in re.split(r"\n\*{10,}[ \t]*(?:\n|$)", read(path)):
            lines = block.strip("\n").split("\n")
            head = re.match(r"^Document\s+(\d+)\s*$", lines[0].strip()) if lines else None
            if head is None:
                if block.strip():
                    orphans.append(f"{path.rsplit('/', 1)[-1]}: {squash(block)[:50]!r}...")
                continue
            parts = re.split(r"\n[ \t]*\n", "\n".join(lines[1:]), maxsplit=1)
            title, body = parts[0], (parts[1] if len(parts) > 1 else "")
            docs.append(make_doc(norm_id(head.group(1)), title, body, {}))
    queries: list[Query] = []
    for block in read("datasets/lisa/LISA.QUE").split("#"):
        lines = block.strip().split("\n")
        if lines and lines[0].strip().isdigit():
            queries.append(
                {"_id": norm_id(lines[0]), "text": squash("\n".join(lines[1:])), "metadata": {}}
            )
    # LISARJ.NUM: qid, count, then that many doc ids (wrapped over fixed-width lines).
    tokens = int_tokens(read("datasets/lisa/LISARJ.NUM"))
    raw: list[tuple[str, str, int]] = []
    bad_counts = 0
    i = 0
    while i < len(tokens):
        qid, n = tokens[i], tokens[i + 1]
        ids = tokens[i + 2 : i + 2 + n]
        if len(ids) != n:
            bad_counts += 1
        raw.extend((str(qid), str(d), 1) for d in ids)
        i += 2 + n
    pairs, repeats = count_pairs(raw)
    # Cross-check with LISA.REL ("Query N / K Relevant Refs: / ids -1").
    rel_pairs: set[tuple[str, str]] = set()
    chunks = re.split(r"Query\s+(\d+)", read("datasets/lisa/LISA.REL"))
    for qid, chunk in zip(chunks[1::2], chunks[2::2], strict=True):
        _, _, refs = chunk.partition("Relevant Refs:")
        rel_pairs.update((norm_id(qid), d) for d in refs.split() if d.isdigit())
    num_pairs = {(q, d) for q, d, _ in pairs}
    notes = [
        "documents: 'Document N', title lines up to the first blank line, then the abstract; "
        "records end with a line of asterisks; query text ends at '#'",
        *(f"text block without a 'Document N' header skipped: {o}" for o in orphans),
        "qrels from LISARJ.NUM (qid, count, doc ids); binary -> score 1",
        f"LISA.REL cross-check: {len(rel_pairs)} pairs over "
        f"{len({q for q, _ in rel_pairs})} queries; {len(num_pairs - rel_pairs)} pairs only in "
        f"LISARJ.NUM, {len(rel_pairs - num_pairs)} only in LISA.REL",
    ]
    present = {int(str(d["_id"])) for d in docs}
    absent = sorted(set(range(1, LISA_DOCS + 1)) - present)
    if absent:
        notes.append(
            f"document numbers absent from the files: {absent}; in LISA1.501 the abstract of "
            "1992 runs into the tail of another record and 1998-2000 are repeated (an "
            "independent copy, Rachid-Mek/Search_Engine lisa/LISA1.501, has the same damage)"
        )
    notes.append("LISA.REL lacks queries 22 and 23 (a copy of query 35 stands in their place)")
    if bad_counts:
        notes.append(f"{bad_counts} LISARJ.NUM entries list fewer ids than their count")
    if repeats:
        notes.append(f"{repeats} repeated pairs merged")
    return Parsed(docs, queries, qrels_from_pairs(pairs), notes)


def parse_time(read: Callable[[str], str]) -> Parsed:
    docs: list[Doc] = []
    text = read("datasets/time/TIME.ALL").split("*STOP")[0]
    for block in re.split(r"\n(?=\*TEXT )", "\n" + text):
        block = block.strip()
        if not block:
            continue
        head, _, body = block.partition("\n")
        match = re.match(r"^\*TEXT\s+(\d+)\s*(.*?)\s*(?:PAGE\s+(\d+))?\s*$", head)
        if match is None:
            raise ValueError(f"TIME.ALL: unexpected header {head[:60]!r}")
        meta = {"date": match.group(2), "page": norm_id(match.group(3) or "")}
        docs.append(make_doc(norm_id(match.group(1)), "", body, meta))
    queries: list[Query] = []
    text = read("datasets/time/TIME.QUE").split("*STOP")[0]
    for block in re.split(r"\n(?=\*FIND )", "\n" + text):
        block = block.strip()
        if block:
            head, _, body = block.partition("\n")
            queries.append({"_id": norm_id(head.split()[1]), "text": squash(body), "metadata": {}})

    # TIME.REL numbers documents 1..425 by position in the original 425-document file, not by
    # *TEXT number; this TIME.ALL (like other public copies) holds 423, two having been lost
    # between positions 371 and 377. Query-document term overlap of the judged pairs (about
    # 0.55 at offset 0 up to position 370, 0.1 at offset 0 but 0.5-0.65 at offset 2 from 378;
    # random pairs 0.15) puts relevance number k at file position k for k <= 370 and k - 2 for
    # k >= 378. No judgement names 371..377.
    def rel_to_doc(number: int) -> str | None:
        if len(docs) != TIME_DOCS_IN_FILE:
            return None
        position = number if number <= TIME_LAST_UNSHIFTED else number - 2
        if TIME_LAST_UNSHIFTED < number < TIME_FIRST_SHIFTED or not 1 <= position <= len(docs):
            return None
        return str(docs[position - 1]["_id"])

    raw: list[tuple[str, str, int]] = []
    unmapped: list[str] = []
    for line in read("datasets/time/TIME.REL").split("\n"):
        parts = line.split()
        for number in parts[1:]:
            doc_id = rel_to_doc(int(number))
            if doc_id is None:
                unmapped.append(f"{parts[0]}:{number}")
            else:
                raw.append((norm_id(parts[0]), doc_id, 1))
    pairs, repeats = count_pairs(raw)
    notes = [
        "doc _id = the *TEXT number (017 -> 17; numbering has gaps); no titles; date/page in "
        "metadata; binary qrels -> score 1",
        f"TIME.REL uses positional numbers 1..425 over the original 425 documents; the file has "
        f"{len(docs)}: relevance number k -> file position k (k <= {TIME_LAST_UNSHIFTED}) or "
        f"k - 2 (k >= {TIME_FIRST_SHIFTED}), chosen by query-document term overlap",
    ]
    if unmapped:
        notes.append(f"{len(unmapped)} judgements could not be placed: {unmapped[:10]}")
    if repeats:
        notes.append(f"{repeats} repeated pairs merged")
    return Parsed(docs, queries, qrels_from_pairs(pairs), notes)


def slash_blocks(text: str) -> list[tuple[str, str]]:
    """NPL layout: an id line, content lines, then a line holding only '/'."""
    out = []
    for block in re.split(r"\n\s*/\s*(?:\n|$)", text):
        lines = block.strip("\n").split("\n")
        if lines and lines[0].strip():
            out.append((norm_id(lines[0]), "\n".join(lines[1:])))
    return out


def parse_npl(read: Callable[[str], str]) -> Parsed:
    docs = [
        make_doc(rid, "", body, {}) for rid, body in slash_blocks(read("datasets/npl/doc-text"))
    ]
    queries: list[Query] = [
        {"_id": rid, "text": squash(body), "metadata": {}}
        for rid, body in slash_blocks(read("datasets/npl/query-text"))
    ]
    raw = [
        (rid, str(d), 1)
        for rid, body in slash_blocks(read("datasets/npl/rlv-ass"))
        for d in int_tokens(body)
    ]
    pairs, repeats = count_pairs(raw)
    notes = [
        "no titles (documents are lower-case title+abstract, queries upper-case); "
        "binary qrels -> score 1"
    ]
    if repeats:
        notes.append(f"{repeats} repeated pairs merged")
    return Parsed(docs, queries, qrels_from_pairs(pairs), notes)


CF_FIELD = re.compile(r"^([A-Z]{2}) (.*)$")


def cf_records(text: str, first: str) -> list[dict[str, str]]:
    """Cystic Fibrosis records: 2-letter field codes at column 0, indented continuations."""
    records: list[dict[str, list[str]]] = []
    current: str | None = None
    for line in text.split("\n"):
        match = CF_FIELD.match(line)
        if match:
            current = match.group(1)
            if current == first:
                records.append({})
            if records:
                records[-1].setdefault(current, []).append(match.group(2))
        elif line.strip() and current is not None and records:
            records[-1].setdefault(current, []).append(line)
        elif not line.strip():
            current = None
    return [{k: "\n".join(v) for k, v in r.items()} for r in records]


def parse_cf(read: Callable[[str], str]) -> Parsed:
    docs: list[Doc] = []
    for year in range(74, 80):
        for r in cf_records(read(f"cfc/cf{year}"), "PN"):
            body = r.get("AB") or r.get("EX", "")
            meta = {
                "paper_number": r.get("PN", ""),
                "medline_an": r.get("AN", ""),
                "authors": r.get("AU", ""),
                "source": r.get("SO", ""),
                "mesh_major": r.get("MJ", ""),
                "mesh_minor": r.get("MN", ""),
                "body_field": "AB" if r.get("AB") else ("EX" if r.get("EX") else ""),
            }
            docs.append(make_doc(norm_id(r["RN"]), r.get("TI", ""), body, meta))
    queries: list[Query] = []
    raw: list[tuple[str, str, int]] = []
    nr_mismatch = 0
    for r in cf_records(read("cfc/cfquery"), "QN"):
        qid = norm_id(r["QN"])
        queries.append({"_id": qid, "text": squash(r.get("QU", "")), "metadata": {}})
        tokens = r.get("RD", "").split()
        judged = list(zip(tokens[0::2], tokens[1::2], strict=True))
        if int(r.get("NR", "0")) != len(judged):
            nr_mismatch += 1
        for doc, votes in judged:
            score = sum(int(c) for c in votes)
            if score > 0:
                raw.append((qid, norm_id(doc), score))
    pairs, repeats = count_pairs(raw)
    notes = [
        "doc _id = RN record number (1..1239); title=TI, text=AB abstract or EX extract; "
        "MeSH, authors, source, MEDLINE AN in metadata",
        "score = sum of the 4 judges' 0-2 grades (REW, REW colleagues, post-docs, JBW): 1..8",
    ]
    if nr_mismatch:
        notes.append(f"{nr_mismatch} queries whose NR differs from the RD list length")
    if repeats:
        notes.append(f"{repeats} repeated pairs merged (highest score kept)")
    return Parsed(docs, queries, qrels_from_pairs(pairs), notes)


GLASGOW = "no licence stated; distributed freely for research by the Glasgow IR group"
SPECS: tuple[Spec, ...] = (
    Spec(
        "cacm", "CACM (Communications of the ACM 1958-79)", TERM_REPO, TERM_CACM,
        ("datasets/cacm/cacm.all", "datasets/cacm/query.text", "datasets/cacm/qrels.text"),
        parse_cacm, Expected(3204, 64, 52, 796, "ir_datasets 'cacm'"), GLASGOW,
    ),
    Spec(
        "cisi", "CISI (information science)", TERM_REPO, TERM_ORIGINAL,
        ("datasets/cisi/CISI.ALL", "datasets/cisi/CISI.QRY", "datasets/cisi/CISI.REL"),
        parse_cisi, Expected(1460, 112, 76, 3114, "ir_datasets 'cisi'"), GLASGOW,
    ),
    Spec(
        "med", "MED / MEDLARS (medicine)", TERM_REPO, TERM_ORIGINAL,
        ("datasets/med/MED.ALL", "datasets/med/MED.QRY", "datasets/med/MED.REL"),
        parse_med, Expected(1033, 30, 30, 696, "Glasgow README (1033 docs, 30 queries)"),
        GLASGOW,
    ),
    Spec(
        "lisa", "LISA (Library and Information Science Abstracts 1982)", TERM_REPO,
        TERM_ORIGINAL, (*LISA_FILES, "datasets/lisa/LISA.QUE", "datasets/lisa/LISARJ.NUM",
                        "datasets/lisa/LISA.REL"),
        parse_lisa, Expected(6004, 35, 35, None, "collection README (6004 docs, 35 queries)"),
        "README: 'NOT TO BE SOLD but provided to support research'; LISA database (c) 1982 "
        "Library Association",
    ),
    Spec(
        "time", "TIME magazine 1963", TERM_REPO, TERM_ORIGINAL,
        ("datasets/time/TIME.ALL", "datasets/time/TIME.QUE", "datasets/time/TIME.REL"),
        parse_time, Expected(423, 83, 83, None, "Glasgow (83 queries; README says 425 docs)"),
        GLASGOW,
    ),
    Spec(
        "adi", "ADI (documentation)", TERM_REPO, TERM_ORIGINAL,
        ("datasets/adi/ADI.ALL", "datasets/adi/ADI.QRY", "datasets/adi/ADI.REL"),
        parse_adi, Expected(82, 35, 35, 170, "Glasgow (82 docs, 35 queries)"), GLASGOW,
    ),
    Spec(
        "npl", "NPL / Vaswani (electronics abstracts)", TERM_REPO, TERM_ORIGINAL,
        ("datasets/npl/doc-text", "datasets/npl/query-text", "datasets/npl/rlv-ass"),
        parse_npl, Expected(11429, 93, 93, 2083, "ir_datasets 'vaswani'"), GLASGOW,
    ),
    Spec(
        "cf", "Cystic Fibrosis (MEDLINE subset 1974-79)", CF_REPO, CF_COMMIT,
        (*(f"cfc/cf{y}" for y in range(74, 80)), "cfc/cfquery"),
        parse_cf, Expected(1239, 100, 100, None, "collection README (1239 docs, 100 queries)"),
        "copyright 1989 (Shaw, Wood, Wood & Tibbo, LISR 13, 1991); no licence stated",
    ),
)  # fmt: skip


# --------------------------------------------------------------------------- output


def dedupe_docs(docs: list[Doc]) -> tuple[list[Doc], str]:
    """Keep the first record of each document id; describe what was dropped."""
    first: dict[str, Doc] = {}
    same: list[str] = []
    differ: list[str] = []
    for doc in docs:
        doc_id = str(doc["_id"])
        if doc_id not in first:
            first[doc_id] = doc
        elif first[doc_id] == doc:
            same.append(doc_id)
        else:
            differ.append(doc_id)
    if not same and not differ:
        return docs, ""
    return list(first.values()), (
        f"{len(same) + len(differ)} repeated document records dropped, first kept "
        f"(identical repeats: {sorted(set(same), key=sort_key)}; "
        f"differing repeats: {sorted(set(differ), key=sort_key)})"
    )


def finish(parsed: Parsed) -> tuple[Qrels, list[str]]:
    """Qrels restricted to known queries/documents and positive scores; problems as text."""
    problems: list[str] = []
    doc_ids = [str(d["_id"]) for d in parsed.docs]
    query_ids = [str(q["_id"]) for q in parsed.queries]
    for kind, ids in (("document", doc_ids), ("query", query_ids)):
        if len(ids) != len(set(ids)):
            problems.append(f"{len(ids) - len(set(ids))} duplicate {kind} ids")
    empty = [q for q in parsed.queries if not str(q["text"]).strip()]
    if empty:
        problems.append(f"{len(empty)} queries with empty text (e.g. {empty[0]['_id']})")
    known_docs, known_queries = set(doc_ids), set(query_ids)
    qrels: Qrels = {}
    unknown_q: set[str] = set()
    unknown_d: set[tuple[str, str]] = set()
    for qid, grades in parsed.qrels.items():
        if qid not in known_queries:
            unknown_q.add(qid)
            continue
        for doc_id, score in grades.items():
            if doc_id not in known_docs:
                unknown_d.add((qid, doc_id))
            elif score > 0:
                qrels.setdefault(qid, {})[doc_id] = score
    if unknown_q:
        problems.append(
            f"judgements for {len(unknown_q)} unknown queries dropped: {sorted(unknown_q)[:5]}"
        )
    if unknown_d:
        problems.append(
            f"{len(unknown_d)} judged pairs name unknown documents, dropped: "
            f"{sorted(unknown_d)[:5]}"
        )
    return qrels, problems


def stats(parsed: Parsed, qrels: Qrels) -> dict[str, float | int]:
    judged = [q for q in parsed.queries if str(q["_id"]) in qrels]
    pairs = sum(len(g) for g in qrels.values())
    words = [len(str(q["text"]).split()) for q in judged]
    doc_words = [len(str(d["title"]).split()) + len(str(d["text"]).split()) for d in parsed.docs]
    return {
        "docs": len(parsed.docs),
        "queries": len(parsed.queries),
        "judged_queries": len(qrels),
        "judged_pairs": pairs,
        "mean_relevant_per_query": round(pairs / len(qrels), 2) if qrels else 0.0,
        "mean_query_words": round(sum(words) / len(words), 1) if words else 0.0,
        "mean_doc_words": round(sum(doc_words) / len(doc_words), 1) if doc_words else 0.0,
        "docs_text_is_title": sum(
            1
            for d in parsed.docs
            if isinstance(d.get("metadata"), dict) and "text_is_title" in d["metadata"]
        ),
    }


def compare(counts: dict[str, float | int], expected: Expected) -> list[str]:
    out = []
    for key, want in (
        ("docs", expected.docs),
        ("queries", expected.queries),
        ("judged_queries", expected.judged),
        ("judged_pairs", expected.pairs),
    ):
        if want is not None and counts[key] != want:
            out.append(f"{key} {counts[key]} != expected {want} ({expected.source})")
    return out


def write_jsonl(path: Path, rows: Iterable[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_collection(out: Path, spec: Spec, parsed: Parsed, qrels: Qrels, report: dict) -> None:
    folder = out / spec.name
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "corpus.jsonl", parsed.docs)
    write_jsonl(folder / "queries.jsonl", parsed.queries)
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for qid in sorted(qrels, key=sort_key):
            for doc_id in sorted(qrels[qid], key=sort_key):
                handle.write(f"{qid}\t{doc_id}\t{qrels[qid][doc_id]}\n")
    (folder / "SOURCE.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def sort_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


def convert(spec: Spec, mirror: Path, out: Path) -> dict:
    git_dir = git_dir_for(spec.repo, mirror)
    parsed = spec.parse(git_reader(git_dir, spec.commit, spec.repo))
    parsed.docs, dup_note = dedupe_docs(parsed.docs)
    if dup_note:
        parsed.notes.append(dup_note)
    qrels, problems = finish(parsed)
    counts = stats(parsed, qrels)
    mismatches = compare(counts, spec.expected)
    report = {
        "name": spec.name,
        "title": spec.title,
        "repo": spec.repo,
        "commit": spec.commit,
        "paths": list(spec.paths),
        "mirror": str(git_dir),
        "licence": spec.licence,
        "counts": counts,
        "expected": {
            "docs": spec.expected.docs,
            "queries": spec.expected.queries,
            "judged_queries": spec.expected.judged,
            "judged_pairs": spec.expected.pairs,
            "source": spec.expected.source,
        },
        "mismatches": mismatches,
        "problems": problems,
        "notes": parsed.notes,
    }
    write_collection(out, spec, parsed, qrels, report)
    return report


def print_list(mirror: Path) -> None:
    for spec in SPECS:
        try:
            where = str(git_dir_for(spec.repo, mirror))
        except MirrorError:
            where = f"MISSING (fetch github:{spec.repo})"
        print(f"{spec.name:5}  {spec.title}")
        print(f"       source : github.com/{spec.repo} @ {spec.commit}")
        print(f"       paths  : {', '.join(spec.paths)}")
        print(f"       mirror : {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="collections to convert (default: all)")
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="fetch mirror root")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output root")
    parser.add_argument("--list", action="store_true", help="list collections and sources")
    args = parser.parse_args(argv)
    if args.list:
        print_list(args.mirror)
        return 0
    by_name = {spec.name: spec for spec in SPECS}
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        parser.error(f"unknown collection(s) {unknown}; known: {', '.join(by_name)}")
    chosen = [by_name[n] for n in args.names] if args.names else list(SPECS)
    failed: list[str] = []
    rows: list[dict] = []
    for spec in chosen:
        try:
            report = convert(spec, args.mirror, args.out)
        except MirrorError as exc:
            print(f"[{spec.name}] MISSING: {exc}", file=sys.stderr)
            failed.append(spec.name)
            continue
        except (ValueError, KeyError, IndexError) as exc:
            print(f"[{spec.name}] FAILED to parse: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed.append(spec.name)
            continue
        rows.append(report)
        c = report["counts"]
        status = "OK" if not report["mismatches"] and not report["problems"] else "CHECK"
        print(
            f"[{spec.name}] {status}: {c['docs']} docs, {c['queries']} queries, "
            f"{c['judged_queries']} judged, {c['judged_pairs']} pairs -> {args.out / spec.name}"
        )
        for line in report["mismatches"]:
            print(f"    mismatch: {line}")
        for line in report["problems"]:
            print(f"    problem : {line}")
    if rows:
        print(
            "\n| name | docs | queries | judged queries | judged pairs | rel/query | query words |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            c = r["counts"]
            print(
                f"| {r['name']} | {c['docs']} | {c['queries']} | {c['judged_queries']} | "
                f"{c['judged_pairs']} | {c['mean_relevant_per_query']} | {c['mean_query_words']} |"
            )
    if failed:
        print(f"\nnot converted: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
