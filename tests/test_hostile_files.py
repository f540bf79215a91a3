"""One ingest of a folder of hostile files: a clear error per bad file, the good ones indexed.

tests/test_loaders.py checks each loader's failure modes one file at a time; here they all
sit in one folder with good files, go through the whole pipeline (discover, load, chunk,
embed, index) in a subprocess whose peak memory we measure, and the ingest must not stop.
Among them: a 200 MB file (sparse), a 20 MB single line, 200,000 nested <div>s.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import zipfile
from itertools import pairwise
from pathlib import Path

import pytest
from pypdf import PdfWriter
from tests.conftest import ROOT, HashEmbedder
from tests.test_loaders import SAFETY_PDF, SPECS_PDF, make_docx

from ragfusion import Pipeline, PipelineConfig
from ragfusion.ingest.chunking import text_spans
from ragfusion.ingest.loaders.html_depth import cap_nesting

HUGE_BYTES = 200 * 10**6
LONG_LINE_BYTES = 20 * 10**6
DEPTH = 200_000
# Peak RSS of the ingest process; measured 0.27 GB (mostly the 20 MB line: its text and
# 29,000 chunks with their BM25 and vector entries).
MAX_RSS_MB = 600

# file name -> a phrase its skip reason must contain
BAD = {
    "empty.txt": "empty",
    "blank.md": "empty",
    "image.txt": "binary",  # a PNG disguised as text
    "noise.md": "not valid UTF-8",  # random bytes, no NUL
    "truncated.pdf": "truncated or damaged",
    "locked.pdf": "password",
    "cyclic.pdf": "cyclic",
    "scan.pdf": "OCR",
    "fake.pdf": "PDF",
    "bomb.docx": "zip bomb",
    "laughs.docx": "could not be opened as .docx",  # XML entity expansion
    "notzip.docx": "not a valid .docx",
    "huge.txt": "over the limit",
    "furniture.html": "no readable text",
    "nul.html": "binary",
    "pipe.md": "named pipe",
    "dangling.txt": "broken symbolic link",
    "data.xyz": "unsupported file type",
}
# file name -> a word only it contains
GOOD = {
    "good.md": "aardvark",
    "good.txt": "bandicoot",
    "good.html": "capybara",
    "latin1.txt": "dromadaire",
    "long-line.txt": "echidna",
    "deep.html": "flamingo",
    "restricted.pdf": "Lumora",  # encrypted against editing only: opens without a password
}


def _pdf(objects: list[bytes]) -> bytes:
    """A minimal PDF with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n" % (len(objects) + 1, xref)
    return bytes(out + b"%%EOF\n")


def _cyclic_pdf() -> bytes:
    text = b"BT /F1 12 Tf 10 50 Td (cyclic) Tj ET"
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",  # the tree contains itself
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 99 99] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def _write_pdf(path: Path, writer: PdfWriter) -> None:
    with path.open("wb") as handle:
        writer.write(handle)


def _docx_variant(folder: Path, name: str, change: str, extra: bytes = b"") -> None:
    base = make_docx(folder.parent / f"base-{name}", lambda d: d.add_paragraph("Real content."))
    with (
        zipfile.ZipFile(base) as src,
        zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if change == "laughs" and info.filename == "word/document.xml":
                entities = b"".join(
                    b'<!ENTITY l%d "%s">' % (i, (b"&l%d;" % (i - 1)) * 10) for i in range(1, 10)
                )
                body = data[data.index(b"<w:document") :].replace(b"Real content.", b"&l9;")
                data = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">%s]>%s' % (
                    entities,
                    body,
                )
            dst.writestr(info, data)
        if extra:
            dst.writestr("customXml/padding.bin", extra)


def build_folder(folder: Path) -> None:
    rng = random.Random(7)
    folder.mkdir()
    w = folder.joinpath
    w("empty.txt").write_bytes(b"")
    w("blank.md").write_bytes(b"  \n\t\n\r\n")
    w("image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(4000))
    w("noise.md").write_bytes(bytes(b for b in rng.randbytes(6000) if b))
    specs = SPECS_PDF.read_bytes()
    w("truncated.pdf").write_bytes(specs[: len(specs) // 2])
    locked = PdfWriter(clone_from=str(SAFETY_PDF))
    locked.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    _write_pdf(w("locked.pdf"), locked)
    restricted = PdfWriter(clone_from=str(SAFETY_PDF))
    restricted.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    _write_pdf(w("restricted.pdf"), restricted)
    w("cyclic.pdf").write_bytes(_cyclic_pdf())
    scan = PdfWriter()
    scan.add_blank_page(width=200, height=200)
    _write_pdf(w("scan.pdf"), scan)
    w("fake.pdf").write_bytes(b"<html>this is not a PDF</html>\n" * 20)
    _docx_variant(folder, "bomb.docx", "bomb", bytes(64 * 2**20))
    _docx_variant(folder, "laughs.docx", "laughs")
    w("notzip.docx").write_bytes(b"PK\x03\x04 but not really a zip archive" * 10)
    with w("huge.txt").open("wb") as handle:  # sparse: 200 MB on paper, a few KiB on disk
        handle.write(b"A huge log file.\n" * 100)
        handle.truncate(HUGE_BYTES)
    w("furniture.html").write_text(
        "<html><body><nav>Home | About</nav><script>var a = 1;</script>"
        "<footer>(c) 2024</footer></body></html>"
    )
    w("nul.html").write_bytes(b"<html>\x00\x00\x00<body>x</body></html>")
    os.mkfifo(w("pipe.md"))
    w("dangling.txt").symlink_to(folder / "does-not-exist.txt")
    w("data.xyz").write_text("a,b\n1,2\n")

    w("good.md").write_text("# Animals\n\nThe aardvark eats ants at night.\n")
    w("good.txt").write_text("Marsupials\n\nThe bandicoot is a small marsupial.\n")
    w("good.html").write_text("<html><body><p>The capybara is the largest rodent.</p></body>")
    w("latin1.txt").write_bytes("Le dromadaire a une bosse, café crème.\n".encode("cp1252"))
    with w("long-line.txt").open("w", encoding="ascii") as handle:  # no line break at all
        words = " ".join(f"token{i % 7919}" for i in range(20_000))
        while handle.tell() < LONG_LINE_BYTES - len(words) - 20:
            handle.write(words + " ")
        handle.write("echidna end")
    with w("deep.html").open("w") as handle:
        handle.write("<html><body>" + "<div>" * DEPTH + "<p>The flamingo is pink.</p>")
        handle.write("</div>" * DEPTH + "</body></html>")


INGEST = """
import json, resource, sys, time
from pathlib import Path


def peak_rss_mb():
    # VmHWM is this process's own peak. ru_maxrss is not: Linux carries the parent's peak
    # across fork and exec, so a large pytest process would be counted here.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


from tests.conftest import HashEmbedder
from ragfusion import Pipeline, PipelineConfig
from ragfusion.errors import LoadError
from ragfusion.ingest.loaders import load_document
started = time.perf_counter()
try:
    load_document(Path(sys.argv[2]) / "huge.txt")
except LoadError:
    huge_s = time.perf_counter() - started
pipe = Pipeline.open(sys.argv[1], PipelineConfig(), embedder=HashEmbedder())
report = pipe.ingest([sys.argv[2]])
pipe.close()
print(json.dumps({
    "added": report.added, "files": report.files, "seconds": report.seconds,
    "timings_s": report.timings_s, "chunks": report.chunks_added, "huge_s": huge_s,
    "skipped": [[s.path, s.reason] for s in report.skipped],
    "max_rss_mb": peak_rss_mb(),
}))
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_one_ingest_of_a_hostile_folder(tmp_path: Path) -> None:
    folder, index = tmp_path / "hostile", tmp_path / "index"
    build_folder(folder)
    assert {p.name for p in folder.iterdir()} == set(BAD) | set(GOOD)
    done = subprocess.run(
        [sys.executable, "-c", INGEST, str(index), str(folder)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    reasons: dict[str, list[str]] = {}
    for path, reason in result["skipped"]:
        reasons.setdefault(Path(path).name, []).append(reason)
    assert set(reasons) == set(BAD), reasons
    for name, phrase in BAD.items():
        assert len(reasons[name]) == 1 and phrase in reasons[name][0], (name, reasons[name])
    assert result["added"] == len(GOOD)
    assert result["huge_s"] < 0.5  # refused by its size, before reading it
    assert result["max_rss_mb"] < MAX_RSS_MB
    print(
        f"\n{len(BAD) + len(GOOD)} files: {len(BAD)} refused with a reason, {len(GOOD)} "
        f"ingested ({result['chunks']} chunks) in {result['seconds']:.1f}s "
        f"{result['timings_s']}; the 200 MB file refused in {result['huge_s'] * 1000:.1f} ms; "
        f"peak RSS {result['max_rss_mb']:.0f} MB"
    )
    with Pipeline.open(index, PipelineConfig(), embedder=HashEmbedder(), create=False) as pipe:  # type: ignore[arg-type]
        assert pipe.store.check().ok
        for name, word in GOOD.items():
            hits = pipe.search(word, k=3, retrievers=("bm25",)).hits
            assert hits and Path(hits[0].chunk.source).name == name, (name, hits[:1])
        deep = next(d for d in pipe.documents() if d.source.endswith("deep.html"))
        document = pipe.document(deep.doc_id)
        assert document is not None and document.metadata["flattened_tags"] > 0


# the two fixes this corpus found ----------------------------------------------------------
def test_long_runs_without_blank_lines_are_cut_into_windows() -> None:
    text = "one two three. " * 3000  # 45,000 characters, no line break
    spans = text_spans(text, 16_384)
    assert len(spans) == 3 and spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in pairwise(spans))  # no gaps
    assert all(text[end - 2 : end] == ". " for _, end in spans[:-1])  # at sentence ends
    paragraphs = "\n\n".join(["A short paragraph."] * 5000)  # long, but in paragraphs
    assert text_spans(paragraphs, 16_384) == [(0, len(paragraphs))]
    mixed = "Intro.\n\n" + "x" * 40_000 + "\n\nOutro."
    spans = text_spans(mixed, 16_384)
    assert spans[0] == (0, 8) and spans[-1] == (40_008, len(mixed))
    assert "".join(mixed[a:b] for a, b in spans) == mixed


def test_html_nesting_is_capped_without_losing_text() -> None:
    html = "<body>" + "<div>w " * 1000 + "</div>" * 1000 + "</body>"
    capped, dropped = cap_nesting(html, max_depth=100)
    assert dropped == 2 * 900  # 900 start tags and as many end tags
    assert capped.count("w") == 1000 and capped.count("<div>") == capped.count("</div>") == 100
    assert cap_nesting("<p>a<p>b<br><img src=x>" * 1000, max_depth=10)[1] == 0
    assert cap_nesting("<script>" + "<div>" * 50 + "</script>", max_depth=10)[1] == 0
