"""The BEIR reader: every malformed collection fails early with the file and line at fault,
and what is merely odd (duplicates, unknown ids, empty queries) becomes a warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragfusion.errors import ConfigError
from ragfusion.evaluation.beir import load_collection, read_qrels


def write(
    root: Path,
    corpus: list[object] | None = None,
    queries: list[object] | None = None,
    qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
) -> Path:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = corpus if corpus is not None else [{"_id": "d1", "title": "T", "text": "wind tunnel"}]
    queries = queries if queries is not None else [{"_id": "q1", "text": "tunnel"}]
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


def test_a_well_formed_collection_has_no_warnings(tmp_path: Path) -> None:
    collection = load_collection(write(tmp_path / "c"))
    assert collection.queries == {"q1": "tunnel"}
    assert collection.qrels == {"q1": {"d1": 1}}
    assert collection.warnings == ()


def test_numeric_ids_are_read_as_strings(tmp_path: Path) -> None:
    root = write(
        tmp_path / "c",
        corpus=[{"_id": 7, "text": "seven"}],
        queries=[{"_id": 3, "text": "seven"}],
        qrels="3\t7\t2\n",
    )
    collection = load_collection(root)
    assert collection.corpus[0].id == "7" and collection.qrels == {"3": {"7": 2}}


@pytest.mark.parametrize(
    ("corpus", "queries", "message"),
    [
        ([{"title": "no id", "text": "x"}], None, "corpus.jsonl:1 has no '_id' field"),
        (None, [{"_id": "q1"}], "queries.jsonl:1 has no 'text' field"),
        ([["not", "an", "object"]], None, "corpus.jsonl:1 is not a JSON object"),
        ([{"_id": "d1", "text": {"nested": 1}}], None, "'text' must be a string"),
        ([], None, "has no documents"),
    ],
)
def test_malformed_lines_name_file_and_line(
    tmp_path: Path, corpus: list[object] | None, queries: list[object] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_collection(write(tmp_path / "c", corpus=corpus, queries=queries))


def test_invalid_json_and_encoding_are_reported(tmp_path: Path) -> None:
    root = write(tmp_path / "c")
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "tunnel"}\n{"_id": \n')
    with pytest.raises(ConfigError, match=r"queries.jsonl:2 is not valid JSON"):
        load_collection(root)
    (root / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "caf\xe9"}\n')
    with pytest.raises(ConfigError, match=r"is not UTF-8.*iconv"):
        load_collection(root)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    root = write(tmp_path / "c")
    (root / "queries.jsonl").write_bytes(b'\xef\xbb\xbf{"_id": "q1", "text": "tunnel"}\n')
    assert load_collection(root).queries == {"q1": "tunnel"}


@pytest.mark.parametrize(
    "text",
    [
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td2\t2\n",  # BEIR with header
        "q1\td1\t1\nq1\td2\t0\nq2\td2\t2\n",  # BEIR without header
        "q1 0 d1 1\nq1 0 d2 0\nq2 0 d2 2\n",  # TREC, spaces
        "q1\t0\td1\t1\r\nq1\t0\td2\t0\r\n\r\nq2\t0\td2\t2.0\r\n",  # TREC, tabs, CRLF
    ],
)
def test_qrels_in_beir_and_trec_layouts(tmp_path: Path, text: str) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text(text)
    assert read_qrels(path) == {"q1": {"d1": 1, "d2": 0}, "q2": {"d2": 2}}


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td1\tyes\n", r"test.tsv:2: relevance 'yes' is not"),
        ("q1\td1\n", r"test.tsv:1 has 2 columns"),
        ("q9\td1\t1\n", "no query of .* has text in"),
        ("q1\td1\t0\n", "no query of .* with a relevant document"),
    ],
)
def test_unusable_qrels_fail_before_indexing(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_collection(write(tmp_path / "c", qrels=qrels))


def test_odd_but_usable_collections_warn(tmp_path: Path) -> None:
    root = write(
        tmp_path / "c",
        corpus=[{"_id": "d1", "text": "wind"}, {"_id": "d1", "text": "again"}],
        queries=[
            {"_id": "q1", "text": "wind"},
            {"_id": "q2", "text": "  "},
            {"_id": "q1", "text": "again"},
        ],
        qrels="q1\td1\t1\nq1\tgone\t1\nq2\td1\t1\nq3\td1\t1\n",
    )
    collection = load_collection(root)
    assert list(collection.queries) == ["q1"]
    assert [r.text for r in collection.corpus] == ["wind"]
    joined = "\n".join(collection.warnings)
    for expected in (
        "1 duplicate document ids",
        "1 duplicate query ids",
        "1 judged queries are not in queries.jsonl",
        "1 judged queries have empty text",
        "1 of 2 relevant documents are not in corpus.jsonl",
    ):
        assert expected in joined
