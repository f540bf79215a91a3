"""Tests for ragfusion.ingest.loaders: discovery, every format, and helpful LoadErrors on bad input.

Inputs are built in ``tmp_path``: .docx files with python-docx, PDFs from the sample manuals
(copied, truncated, re-assembled or encrypted with pypdf).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import os
import re
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.document import Document as DocxDocument
from pypdf import PdfReader, PdfWriter
from pypdf import errors as pypdf_errors
from pypdf.generic import NameObject, StreamObject
from tests.conftest import kb_questions

import ragfusion.ingest.loaders.docx as docx_loader
from ragfusion.errors import LoadError, RagfusionError
from ragfusion.ingest.ids import content_hash, document_id
from ragfusion.ingest.loaders import SUPPORTED_SUFFIXES, Skipped, discover, load_document
from ragfusion.ingest.loaders.text import decode_text, markdown_sections
from ragfusion.types import Document, Section

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KB = EXAMPLES / "kb"
MANUALS = KB / "manuals"
SAFETY_PDF = MANUALS / "safety-and-cleaning.pdf"
SPECS_PDF = MANUALS / "technical-specifications.pdf"
SUBSCRIPTION_DOCX = KB / "billing" / "subscription-plans.docx"

FILE_TYPES = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def load_error(path: Path, **kwargs: Any) -> LoadError:
    """Load ``path``, expecting a LoadError that names the (resolved) file."""
    with pytest.raises(LoadError) as info:
        load_document(path, **kwargs)
    err = info.value
    assert err.path == str(path.resolve())
    assert str(err).startswith(f"{path.resolve()}: ")
    assert err.reason in str(err)
    return err


def make_docx(path: Path, build: Callable[[DocxDocument], None], title: str = "") -> Path:
    document = docx.Document()
    document.core_properties.title = title
    build(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def norm(text: str) -> str:
    return " ".join(text.split())


def assert_sections_point_at_headings(document: Document) -> None:
    """Every section starts exactly at its '#'-prefixed heading line in the text."""
    starts = [s.start for s in document.sections]
    assert starts == sorted(starts)
    for section in document.sections:
        line = document.text[section.start :].split("\n", 1)[0]
        assert line.startswith("#" * section.level + " "), (section, line)
        assert section.title in line
        assert section.start == 0 or document.text[section.start - 1] == "\n"


QUESTIONS = kb_questions()
EXAMPLE_FILES = sorted(p for p in KB.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# The sample corpus
# ---------------------------------------------------------------------------------------------


def test_example_corpus_covers_every_loader() -> None:
    suffixes = {p.suffix for p in EXAMPLE_FILES}
    assert {".md", ".txt", ".html", ".pdf", ".docx"} <= suffixes
    assert len(QUESTIONS) >= 12


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_file_loads(path: Path) -> None:
    document = load_document(path)
    assert document.file_type == FILE_TYPES[path.suffix]
    assert document.source == str(path.resolve())
    assert document.doc_id == document_id(str(path.resolve()))
    assert document.content_hash == content_hash(path.read_bytes())
    assert document.title.strip()
    assert len(document.text) > 500
    assert "\x00" not in document.text
    if document.file_type in {"md", "html", "docx"}:
        assert document.sections
        assert_sections_point_at_headings(document)
    elif document.file_type == "pdf":
        assert [s.title for s in document.sections] == ["page 1", "page 2"]
        assert document.metadata == {"pages": 2}
    else:
        assert document.sections == ()


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q["id"])
def test_question_evidence_is_in_the_loaded_text(question: dict[str, str]) -> None:
    document = load_document(EXAMPLES / question["source"])
    evidence = question["evidence"]
    if document.file_type == "pdf":
        assert norm(evidence) in norm(document.text)
    else:
        assert evidence in document.text


def test_example_html_drops_page_furniture() -> None:
    document = load_document(KB / "support" / "error-codes.html")
    assert document.title == "Lumora HX2 Error Codes | Lumora Support"
    assert document.text.startswith("# Lumora HX2 Error Codes\n\n")
    assert "My account" not in document.text  # <nav> link
    assert "Shop filters" not in document.text
    assert "Code | Meaning | What to do" in document.text
    assert "E4 | Fan motor stalled or blocked | Unplug the purifier" in document.text


def test_example_docx_structure() -> None:
    document = load_document(SUBSCRIPTION_DOCX)
    assert document.title == "Lumora Care Subscription Plans and Billing"
    levels = {s.title: s.level for s in document.sections}
    assert levels["Plans"] == 1
    assert levels["Lumora Care Plus"] == 2
    assert "Plan | Monthly price | Yearly price | Purifiers covered" in document.text
    assert "Lumora Care Plus | $4.99 | $49.00 | 1" in document.text


# ---------------------------------------------------------------------------------------------
# Plain text and decoding
# ---------------------------------------------------------------------------------------------


def test_plain_text_title_is_first_non_blank_line(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", "\n\n   Release checklist  \nStep one.\n")
    document = load_document(path)
    assert document.file_type == "txt"
    assert document.title == "Release checklist"
    assert document.text == "\n\n   Release checklist  \nStep one.\n"
    assert document.sections == ()


def test_plain_text_title_falls_back_to_stem_for_a_long_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "long-line.text", "word " * 40 + "\nsecond line\n")
    document = load_document(path)
    assert document.file_type == "txt"
    assert document.title == "long-line"


def test_utf8_bom_is_stripped_and_heading_found_at_offset_zero(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.md", codecs.BOM_UTF8 + "# Título\n\nTexto.\n".encode())
    document = load_document(path)
    assert document.text == "# Título\n\nTexto.\n"
    assert document.title == "Título"
    assert document.sections[0].start == 0


@pytest.mark.parametrize(
    "data",
    [
        "Grüße aus Köln\nZweite Zeile\n".encode("utf-16"),  # native order, with BOM
        codecs.BOM_UTF16_LE + "Grüße aus Köln\nZweite Zeile\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "Grüße aus Köln\nZweite Zeile\n".encode("utf-16-be"),
        "Grüße aus Köln\nZweite Zeile\n".encode("utf-32"),
    ],
    ids=["utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-32"],
)
def test_bom_marked_unicode_decodes(tmp_path: Path, data: bytes) -> None:
    document = load_document(write(tmp_path / "greeting.txt", data))
    assert document.text == "Grüße aus Köln\nZweite Zeile\n"
    assert document.title == "Grüße aus Köln"


def test_latin1_text_that_is_not_utf8_still_decodes(tmp_path: Path) -> None:
    sentence = "The café on Main Street serves coffee and cake every day until five.\n"
    data = sentence.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    document = load_document(write(tmp_path / "cafe.txt", data))
    assert "caf" in document.text
    assert "Main Street serves coffee" in document.text


@pytest.mark.parametrize(
    "sentence", ["café", "Le café est prêt à servir."], ids=["short", "french"]
)
def test_cp1252_text_round_trips(tmp_path: Path, sentence: str) -> None:
    document = load_document(write(tmp_path / "cafe.txt", sentence.encode("cp1252")))
    assert "caf" in document.text
    assert document.text == sentence


@pytest.mark.parametrize(
    ("sentence", "encoding"),
    [
        ("Привет, как дела? Это тестовый текст на русском языке.", "cp1251"),
        ("Καλημέρα κόσμε, αυτό είναι ένα κείμενο.", "cp1253"),
        ("Zażółć gęślą jaźń. Mała łódź płynie po jeziorze.", "cp1250"),
        ("你好世界，这是一个测试文本。", "gbk"),
    ],
    ids=["cyrillic", "greek", "polish", "chinese"],
)
def test_non_western_legacy_encodings_are_not_forced_into_cp1252(
    tmp_path: Path, sentence: str, encoding: str
) -> None:
    # These bytes are valid cp1252 too, but read as cp1252 they are chaos: the detector wins.
    document = load_document(write(tmp_path / "text.txt", sentence.encode(encoding)))
    assert document.text == sentence


@pytest.mark.parametrize("data", [b"caf\x81", b"ab\x81\xe9", b"\x90\xe9ab"])
def test_a_utf16_guess_without_bom_is_never_taken(tmp_path: Path, data: bytes) -> None:
    # Not cp1252 (0x81 and 0x90 are undefined there); charset-normalizer's first guess for
    # these is UTF-16-BE, which would turn every byte pair into one CJK character.
    text = decode_text(data, "odd.txt")
    utf16 = data.decode("utf-16-be", errors="replace")
    assert text != utf16
    assert len(text) >= len(data) - 1  # one character per byte (or a double-byte pair)
    assert text.isascii() is False


def test_mostly_control_bytes_are_an_error_not_mojibake(tmp_path: Path) -> None:
    # Valid cp1252, but nearly all control characters; the detector's only guess is UTF-16.
    path = write(tmp_path / "noise.txt", b"\x01\x02\x03\x04\xe9\x05\x06\x07")
    err = load_error(path)
    assert "encoding could not be detected" in err.reason


def test_nul_bytes_in_a_txt_file_are_rejected_as_binary(tmp_path: Path) -> None:
    path = write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    err = load_error(path)
    assert "binary" in err.reason
    assert "NUL" in err.reason


def test_invalid_bytes_after_a_bom_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.txt", codecs.BOM_UTF8 + b"ok \xff\xfe\xfd")
    err = load_error(path)
    assert "byte-order mark" in err.reason
    assert "utf-8" in err.reason


def test_undetectable_encoding_suggests_a_conversion(tmp_path: Path) -> None:
    path = write(tmp_path / "noise.txt", bytes(range(128, 256)) * 4)
    err = load_error(path)
    assert "not valid UTF-8" in err.reason
    assert "iconv" in err.reason


def test_decode_text_raises_load_error_with_the_given_path() -> None:
    with pytest.raises(LoadError) as info:
        decode_text(b"a\x00b", "some/where.txt")
    assert info.value.path == "some/where.txt"


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

MARKDOWN = """\
Preamble line before any heading.

# Kitchen Guide

Intro paragraph.

## Cleaning ##

Wipe it.

```bash
# not a heading: a shell comment
echo done
```

### Deep clean

~~~
## also not a heading
~~~

#no-space-so-not-a-heading

## Storage
Keep it dry.
"""


def test_markdown_sections_have_exact_offsets(tmp_path: Path) -> None:
    document = load_document(write(tmp_path / "kitchen.md", MARKDOWN))
    assert document.file_type == "md"
    assert [(s.title, s.level) for s in document.sections] == [
        ("Kitchen Guide", 1),
        ("Cleaning", 2),
        ("Deep clean", 3),
        ("Storage", 2),
    ]
    assert_sections_point_at_headings(document)
    assert document.text[document.sections[0].start :].startswith("# Kitchen Guide\n")
    assert document.text[document.sections[1].start :].startswith("## Cleaning ##\n")
    assert document.text[document.sections[-1].start :] == "## Storage\nKeep it dry.\n"
    assert document.title == "Kitchen Guide"


def test_markdown_headings_inside_fences_are_ignored() -> None:
    titles = [s.title for s in markdown_sections(MARKDOWN)]
    assert "not a heading: a shell comment" not in titles
    assert "also not a heading" not in titles
    assert all("no-space" not in t for t in titles)


def test_markdown_with_crlf_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path / "crlf.markdown", b"# Title\r\n\r\nBody.\r\n\r\n## Next\r\nMore.\r\n")
    document = load_document(path)
    assert document.file_type == "md"
    assert [s.title for s in document.sections] == ["Title", "Next"]
    assert document.text[document.sections[1].start :].startswith("## Next\r\n")


def test_markdown_title_falls_back_to_first_heading_then_stem(tmp_path: Path) -> None:
    no_h1 = load_document(write(tmp_path / "no-h1.md", "## Second level\n\nText.\n"))
    assert no_h1.title == "Second level"
    plain = load_document(write(tmp_path / "no-heading.md", "Just text.\n"))
    assert plain.title == "no-heading"
    assert plain.sections == ()
    later_h1 = load_document(write(tmp_path / "later.md", "## Sub\n\n# Real title\n"))
    assert later_h1.title == "Real title"


def test_markdown_nested_fence_contents_are_not_headings() -> None:
    text = "````markdown\n```python\n# not a heading\n```\n````\n\n# Real heading\n"
    assert [s.title for s in markdown_sections(text)] == ["Real heading"]


def test_markdown_heading_ending_in_hash_keeps_it() -> None:
    assert [s.title for s in markdown_sections("# Tips for C#\n")] == ["Tips for C#"]


@pytest.mark.parametrize(
    ("text", "titles"),
    [
        ("~~~\n# inside tildes\n```\n# still inside\n~~~\n# after\n", ["after"]),
        ("```\n# inside\n~~~\n# still inside\n```\n# after\n", ["after"]),
        ("````\n# inside\n```\n# still inside\n`````\n# after\n", ["after"]),
        (
            "# before\n```python\n# an unclosed fence runs to the end\n\n# never a heading\n",
            ["before"],
        ),
        ("   ```\n# inside an indented fence\n  ```\n# after\n", ["after"]),
        ("``` not `a` fence\n# heading\n", ["heading"]),  # backticks in a ``` info string
        ("```\n# inside\n``` not a closing fence\n# still inside\n```\n# after\n", ["after"]),
        ("```\r\n# inside\r\n```\r\n# after\r\n", ["after"]),
    ],
    ids=[
        "tilde-not-closed-by-backticks",
        "backtick-not-closed-by-tildes",
        "closing-needs-the-same-length",
        "unclosed-runs-to-end",
        "indented-fence",
        "backtick-in-info-string",
        "closing-fence-has-no-info",
        "crlf",
    ],
)
def test_markdown_fences_follow_commonmark(text: str, titles: list[str]) -> None:
    assert [s.title for s in markdown_sections(text)] == titles


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("# Tips for C#", "Tips for C#"),
        ("## F# and C# ##", "F# and C#"),
        ("# Title #", "Title"),
        ("# Title\t###   ", "Title"),
        ("### Issue #42", "Issue #42"),
        ("## Cleaning ##\r", "Cleaning"),
    ],
)
def test_markdown_closing_hashes_need_white_space_before_them(line: str, title: str) -> None:
    assert [s.title for s in markdown_sections(line + "\n")] == [title]


def test_markdown_empty_headings_are_not_sections() -> None:
    assert markdown_sections("# #\n## ##\n\n# Real\n") == (Section("Real", 1, 11),)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html>
<html><head>
  <title>  Filter   Guide | Lumora </title>
  <style>p { color: red; } .STYLETEXT {}</style>
  <script>var secret = "SCRIPTTEXT";</script>
</head>
<body>
  <header><a href="/">HEADERLOGO</a></header>
  <nav><ul><li><a href="/">NAVHOME</a></li><li><a href="/shop">NAVSHOP</a></li></ul></nav>
  <main>
    <h1>Filter   Guide</h1>
    <p>Replace the filter
       every <b>six</b> months &amp; recycle it.</p>
    <h2>Parts</h2>
    <ul><li>Pre-filter</li><li>HEPA <em>layer</em></li></ul>
    <table>
      <tr><th>Part</th><th>Interval</th></tr>
      <tr><td>HEPA</td><td>6 months</td></tr>
    </table>
    <h3>Notes</h3>
    <p>Wear gloves.</p>
  </main>
  <aside>ASIDETEXT</aside>
  <form><button>BUTTONTEXT</button></form>
  <footer>FOOTERTEXT &copy; Lumora</footer>
  <script>console.log("SCRIPT2")</script>
</body></html>
"""


def test_html_content_sections_and_title(tmp_path: Path) -> None:
    document = load_document(write(tmp_path / "guide.html", HTML_PAGE))
    assert document.file_type == "html"
    assert document.title == "Filter Guide | Lumora"
    text = document.text
    for furniture in (
        "SCRIPTTEXT",
        "SCRIPT2",
        "STYLETEXT",
        "NAVHOME",
        "NAVSHOP",
        "HEADERLOGO",
        "FOOTERTEXT",
        "ASIDETEXT",
        "BUTTONTEXT",
        "color: red",
    ):
        assert furniture not in text
    assert [(s.title, s.level) for s in document.sections] == [
        ("Filter Guide", 1),
        ("Parts", 2),
        ("Notes", 3),
    ]
    assert_sections_point_at_headings(document)
    assert text.startswith("# Filter Guide\n\n")
    assert "every six months & recycle it." in norm(text)
    assert "\n\n- Pre-filter\n\n- HEPA layer\n\n" in text
    assert "\n\nPart | Interval\n\nHEPA | 6 months\n\n" in text
    assert text.endswith("### Notes\n\nWear gloves.")


def test_htm_suffix_and_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    path = write(
        tmp_path / "page.htm", "<html><body><h2>Only Heading</h2><p>Body.</p></body></html>"
    )
    document = load_document(path)
    assert document.file_type == "html"
    assert document.title == "Only Heading"
    assert document.text == "## Only Heading\n\nBody."


def test_html_text_directly_in_divs_is_kept_by_the_fallback(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Divs</title></head><body><nav>NAVTEXT</nav>"
        "<div>Alpha text sits in a div.</div>"
        "<div><div>Beta text is nested <span>deeper</span>.</div></div>"
        "</body></html>"
    )
    document = load_document(write(tmp_path / "divs.html", html))
    assert "Alpha text sits in a div." in document.text
    assert "Beta text is nested" in document.text
    assert "deeper" in document.text
    assert "NAVTEXT" not in document.text
    assert document.sections == ()
    assert document.title == "Divs"


def test_html_div_text_next_to_paragraphs_is_kept(tmp_path: Path) -> None:
    html = (
        "<html><body><div>Opening hours: 9 to 5 on weekdays.</div>"
        "<p>" + "Our support team answers questions about the purifier. " * 3 + "</p>"
        "</body></html>"
    )
    document = load_document(write(tmp_path / "mixed.html", html))
    assert "Opening hours" in document.text


def test_html_loose_text_keeps_its_place_between_blocks(tmp_path: Path) -> None:
    html = (
        "<html><body><div>Before the list <b>(bold)</b><br>on two lines"
        "<ul><li>First item</li><li>Second item</li></ul>"
        "Between <span>blocks</span>."
        "<p>" + "A long paragraph about filters. " * 5 + "</p>"
        "After <i>everything</i></div><section>In a section</section></body></html>"
    )
    document = load_document(write(tmp_path / "loose.html", html))
    paragraph = ("A long paragraph about filters. " * 5).strip()
    assert document.text == (
        "Before the list (bold)\non two lines\n\n"
        "- First item\n\n- Second item\n\n"
        "Between blocks.\n\n"
        f"{paragraph}\n\n"
        "After everything\n\n"
        "In a section"
    )


def test_html_headings_keep_sections_next_to_loose_text(tmp_path: Path) -> None:
    html = (
        "<body><div>Intro text.</div><h1>Guide</h1><div>Loose guide text.</div>"
        "<h2>Part</h2><p>Para.</p><div>More loose text.</div></body>"
    )
    document = load_document(write(tmp_path / "mixed.html", html))
    assert document.text == (
        "Intro text.\n\n# Guide\n\nLoose guide text.\n\n## Part\n\nPara.\n\nMore loose text."
    )
    assert [(s.title, s.level) for s in document.sections] == [("Guide", 1), ("Part", 2)]
    assert_sections_point_at_headings(document)


def test_deeply_nested_html_does_not_overflow_the_stack(tmp_path: Path) -> None:
    depth = 3000  # far beyond Python's default recursion limit of 1000
    html = (
        "<html><body>"
        + "<div><span>level</span> " * depth
        + "<p>Deep paragraph.</p>bottom"
        + "</div>" * depth
        + "</body></html>"
    )
    document = load_document(write(tmp_path / "deep.html", html))
    assert document.text.count("level") == depth
    assert document.text.endswith("Deep paragraph.\n\nbottom")


def test_html_furniture_inside_blocks_is_still_dropped(tmp_path: Path) -> None:
    html = (
        "<body><p>Keep <script>SCRIPTTEXT()</script>this <button>BUTTONTEXT</button>text.</p>"
        "<div>Loose <style>.STYLETEXT{}</style>text <nav>NAVTEXT</nav>here.</div></body>"
    )
    text = load_document(write(tmp_path / "inline.html", html)).text
    assert norm(text) == "Keep this text. Loose text here."


def test_html_header_inside_article_or_main_is_content(tmp_path: Path) -> None:
    html = (
        "<html><body><header><a href='/'>SITELOGO</a> Site tagline</header>"
        "<main><header><p>Updated 3 May 2024</p></header>"
        "<article><header><h1>Replacing the filter</h1><p>By the support team</p></header>"
        "<p>Open the rear cover.</p></article></main></body></html>"
    )
    document = load_document(write(tmp_path / "article.html", html))
    assert "SITELOGO" not in document.text
    assert "Site tagline" not in document.text
    assert document.text == (
        "Updated 3 May 2024\n\n# Replacing the filter\n\nBy the support team\n\n"
        "Open the rear cover."
    )
    assert [s.title for s in document.sections] == ["Replacing the filter"]
    assert document.title == "Replacing the filter"


def test_html_pre_is_kept_verbatim_and_its_comments_are_not_sections(tmp_path: Path) -> None:
    code = "# reset the purifier\nlumora reset   --force\n\n  if ok:\n      print( 'done' )"
    html = (
        "<html><body><h2>Reset from a script</h2>"
        f"<pre>\n{code}\n\n</pre><p>Then wait.</p></body></html>"
    )
    document = load_document(write(tmp_path / "code.html", html))
    assert [(s.title, s.level) for s in document.sections] == [("Reset from a script", 2)]
    assert_sections_point_at_headings(document)
    # The '#' comment line is indented so no Markdown parser takes it for a heading; every
    # other character, white space included, is kept as it was.
    protected = "    # reset the purifier" + code.removeprefix("# reset the purifier")
    assert document.text == f"## Reset from a script\n\n{protected}\n\nThen wait."
    assert markdown_sections(document.text) == document.sections


def test_html_paragraph_starting_with_a_hash_is_not_a_heading(tmp_path: Path) -> None:
    html = "<body><h1>Counts</h1><p># of filters: 2</p><p>#1 rule: unplug first.</p></body>"
    document = load_document(write(tmp_path / "hash.html", html))
    assert [s.title for s in document.sections] == ["Counts"]
    assert markdown_sections(document.text) == document.sections
    assert "# of filters: 2" in document.text
    assert "\n\n#1 rule: unplug first." in document.text


def test_html_with_only_furniture_is_a_load_error(tmp_path: Path) -> None:
    html = "<html><head><title>T</title></head><body><script>x()</script><nav>Home</nav></body>"
    err = load_error(write(tmp_path / "empty.html", html))
    assert "no readable text" in err.reason or "no text" in err.reason


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------


def test_pdf_pages_become_sections() -> None:
    document = load_document(SAFETY_PDF)
    assert document.file_type == "pdf"
    assert document.title == "Lumora HX2 Safety and Cleaning Manual"
    assert document.metadata["pages"] == 2
    first, second = document.sections
    assert (first.title, first.level, first.start) == ("page 1", 1, 0)
    assert second.title == "page 2"
    assert document.text[second.start - 2 : second.start] == "\n\n"
    assert document.text[second.start :].startswith("Cleaning the air quality sensor")
    assert "clean every 3 months with a dry cotton swab" in norm(document.text)


def test_pdf_pages_without_text_are_skipped_but_numbered(tmp_path: Path) -> None:
    reader = PdfReader(str(SAFETY_PDF))
    writer = PdfWriter()
    writer.add_page(reader.pages[0])
    writer.add_blank_page(width=200, height=200)
    writer.add_page(reader.pages[1])
    path = tmp_path / "with-blank.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    document = load_document(path)
    assert [s.title for s in document.sections] == ["page 1", "page 3"]
    assert document.metadata["pages"] == 3
    assert document.title == "with-blank"  # no metadata title was copied
    original = load_document(SAFETY_PDF)
    assert document.text == original.text


def test_pdf_without_any_text_suggests_ocr(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    err = load_error(path)
    assert "no extractable text" in err.reason
    assert "OCR" in err.reason


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_pdf_is_a_load_error(tmp_path: Path, fraction: float) -> None:
    data = SPECS_PDF.read_bytes()
    path = write(tmp_path / "cut.pdf", data[: int(len(data) * fraction)])
    err = load_error(path)
    assert "truncated or damaged" in err.reason or "could not be parsed" in err.reason


def test_garbage_with_pdf_suffix_is_a_load_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path / "fake.pdf", b"this is not a PDF at all\n" * 10))
    assert "PDF" in err.reason


def _encrypted_copy(path: Path, user_password: str, algorithm: str = "RC4-128") -> Path:
    writer = PdfWriter(clone_from=str(SAFETY_PDF))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_password_protected_pdf_is_a_load_error(tmp_path: Path) -> None:
    path = _encrypted_copy(tmp_path / "locked.pdf", user_password="secret")
    assert PdfReader(str(path)).is_encrypted
    err = load_error(path)
    assert "password" in err.reason
    assert "decrypt" in err.reason


def test_pdf_encrypted_with_an_empty_user_password_loads(tmp_path: Path) -> None:
    path = _encrypted_copy(tmp_path / "restricted.pdf", user_password="")
    assert PdfReader(str(path)).is_encrypted
    document = load_document(path)
    assert document.text == load_document(SAFETY_PDF).text


def test_cryptography_is_a_core_dependency() -> None:
    # pypdf needs it to decrypt AES PDFs, even those that open with an empty password.
    import tomllib

    pyproject = tomllib.loads((EXAMPLES.parent / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = pyproject["project"]["dependencies"]
    assert any(re.match(r"cryptography\b", dep) for dep in dependencies)


def test_aes256_pdf_with_an_empty_user_password_loads(tmp_path: Path) -> None:
    path = _encrypted_copy(tmp_path / "aes-open.pdf", user_password="", algorithm="AES-256")
    assert PdfReader(str(path)).is_encrypted
    document = load_document(path)
    assert document.text == load_document(SAFETY_PDF).text


def test_aes256_pdf_with_a_password_is_a_load_error(tmp_path: Path) -> None:
    path = _encrypted_copy(tmp_path / "aes-locked.pdf", user_password="secret", algorithm="AES-256")
    err = load_error(path)
    assert "password" in err.reason
    assert "decrypt" in err.reason


@pytest.mark.parametrize(
    "error",
    [
        pypdf_errors.DependencyError("cryptography>=3.1 is required for AES algorithm"),
        pypdf_errors.FileNotDecryptedError("File has not been decrypted"),
        pypdf_errors.WrongPasswordError("Wrong password"),
        NotImplementedError("unsupported encryption algorithm"),
    ],
    ids=["dependency", "not-decrypted", "wrong-password", "not-implemented"],
)
def test_any_decryption_failure_mentions_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    path = _encrypted_copy(tmp_path / "locked.pdf", user_password="secret")

    def fail(self: PdfReader, password: str) -> None:
        raise error

    monkeypatch.setattr(PdfReader, "decrypt", fail)
    err = load_error(path)
    assert "password" in err.reason
    assert "decrypt" in err.reason
    if isinstance(error, pypdf_errors.DependencyError):
        assert "pip install cryptography" in err.reason


def test_pdf_page_that_cannot_be_read_becomes_a_pdf_error_when_not_decrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # decrypt('') claims success but the pages still need a password: reading them raises
    # FileNotDecryptedError, which must not read as a damaged file.
    path = _encrypted_copy(tmp_path / "locked.pdf", user_password="secret")
    monkeypatch.setattr(PdfReader, "decrypt", lambda self, password: 1)

    def not_decrypted(self: PdfReader) -> list[Any]:
        raise pypdf_errors.FileNotDecryptedError("File has not been decrypted")

    monkeypatch.setattr(PdfReader, "pages", property(not_decrypted))
    err = load_error(path)
    assert "password" in err.reason


def _pdf_with_broken_pages(path: Path, broken: set[int]) -> Path:
    """The safety manual with the content streams of the given (0-based) pages broken."""
    writer = PdfWriter(clone_from=str(SAFETY_PDF))
    for index in broken:
        stream = StreamObject()
        stream.set_data(b"BT /F1 12 Tf (gone) Tj ET")
        stream[NameObject("/Filter")] = NameObject("/NoSuchFilter")
        writer.pages[index][NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_pdf_with_one_unreadable_page_keeps_the_others(tmp_path: Path) -> None:
    path = _pdf_with_broken_pages(tmp_path / "half-broken.pdf", {0})
    with pytest.raises(NotImplementedError):
        PdfReader(str(path)).pages[0].extract_text()
    document = load_document(path)
    assert [(s.title, s.start) for s in document.sections] == [("page 2", 0)]
    assert document.metadata == {"pages": 2, "unreadable_pages": [1]}
    original = load_document(SAFETY_PDF)
    assert document.text == original.text[original.sections[1].start :]


def test_pdf_with_no_readable_page_is_a_load_error(tmp_path: Path) -> None:
    err = load_error(_pdf_with_broken_pages(tmp_path / "broken.pdf", {0, 1}))
    assert "pages 1, 2 could not be read" in err.reason
    assert "NoSuchFilter" in err.reason


# ---------------------------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------------------------


def _build_manual(document: DocxDocument) -> None:
    document.add_paragraph("Intro before any heading.")
    document.add_heading("Installation", level=1)
    document.add_paragraph("Unpack the   unit.")
    document.add_heading("Wall mount", level=2)
    document.add_paragraph("Drill two holes.", style="List Bullet")
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([["Part", "Size", "Count"], ["Screw", "M4", "2"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("")  # empty paragraphs are dropped
    document.add_heading("Maintenance", level=1)
    document.add_paragraph("Dust monthly.")


def test_docx_headings_lists_tables_and_core_title(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "manual.docx", _build_manual, title="  HX2 Manual  ")
    document = load_document(path)
    assert document.file_type == "docx"
    assert document.title == "HX2 Manual"
    assert document.text == (
        "Intro before any heading.\n\n"
        "# Installation\n\n"
        "Unpack the unit.\n\n"
        "## Wall mount\n\n"
        "- Drill two holes.\n\n"
        "Part | Size | Count\n\n"
        "Screw | M4 | 2\n\n"
        "# Maintenance\n\n"
        "Dust monthly."
    )
    assert [(s.title, s.level) for s in document.sections] == [
        ("Installation", 1),
        ("Wall mount", 2),
        ("Maintenance", 1),
    ]
    assert_sections_point_at_headings(document)


def test_docx_title_falls_back_to_first_heading_then_stem(tmp_path: Path) -> None:
    def with_title_style(document: DocxDocument) -> None:
        document.add_heading("Styled Title", level=0)  # the 'Title' style
        document.add_paragraph("Body.")

    titled = load_document(make_docx(tmp_path / "a.docx", with_title_style))
    assert titled.title == "Styled Title"
    assert [(s.title, s.level) for s in titled.sections] == [("Styled Title", 1)]

    plain = load_document(make_docx(tmp_path / "plain-doc.docx", lambda d: d.add_paragraph("x")))
    assert plain.title == "plain-doc"
    assert plain.text == "x"


def test_docx_table_keeps_equal_values_in_different_columns(tmp_path: Path) -> None:
    def build(document: DocxDocument) -> None:
        table = document.add_table(rows=1, cols=4)
        for c, value in enumerate(["Basic", "Free", "Free", "Unlimited"]):
            table.cell(0, c).text = value

    document = load_document(make_docx(tmp_path / "plans.docx", build))
    assert document.text == "Basic | Free | Free | Unlimited"


def test_docx_horizontally_merged_cells_are_not_repeated(tmp_path: Path) -> None:
    def build(document: DocxDocument) -> None:
        table = document.add_table(rows=2, cols=3)
        merged = table.cell(0, 0).merge(table.cell(0, 2))
        merged.text = "Spanning header"
        for c, value in enumerate(["a", "b", "c"]):
            table.cell(1, c).text = value

    document = load_document(make_docx(tmp_path / "merged.docx", build))
    assert document.text == "Spanning header\n\na | b | c"


def test_docx_merged_cell_and_an_equal_value_in_the_same_row(tmp_path: Path) -> None:
    def build(document: DocxDocument) -> None:
        table = document.add_table(rows=2, cols=4)
        table.cell(0, 0).merge(table.cell(0, 1)).text = "Free"
        table.cell(0, 2).text = "Free"
        table.cell(0, 3).text = "Unlimited"
        for c, value in enumerate(["Basic", "Basic", "", "Basic"]):
            table.cell(1, c).text = value

    document = load_document(make_docx(tmp_path / "plans.docx", build))
    assert document.text == "Free | Free | Unlimited\n\nBasic | Basic | Basic"


def test_example_docx_keeps_equal_prices() -> None:
    document = load_document(SUBSCRIPTION_DOCX)
    rows = [line for line in document.text.split("\n\n") if " | " in line]
    header = rows[0].split(" | ")
    assert all(len(row.split(" | ")) == len(header) for row in rows), rows


def test_docx_paragraph_starting_with_a_hash_is_not_a_section(tmp_path: Path) -> None:
    def build(document: DocxDocument) -> None:
        document.add_heading("Inventory", level=1)
        document.add_paragraph("# of filters in the box: 2")

    document = load_document(make_docx(tmp_path / "hash.docx", build))
    assert document.text == "# Inventory\n\n    # of filters in the box: 2"
    assert markdown_sections(document.text) == document.sections
    assert [s.title for s in document.sections] == ["Inventory"]


def test_docx_with_only_empty_paragraphs_is_a_load_error(tmp_path: Path) -> None:
    def build(document: DocxDocument) -> None:
        document.add_paragraph("")
        document.add_paragraph("   ")

    err = load_error(make_docx(tmp_path / "blank.docx", build))
    assert "no text" in err.reason


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    err = load_error(write(tmp_path / "old.docx", b"\xd0\xcf\x11\xe0 an OLE .doc, not a zip"))
    assert "not a zip" in err.reason
    assert "re-save" in err.reason


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    err = load_error(write(tmp_path / "other.docx", buffer.getvalue()))
    assert "could not be opened as .docx" in err.reason


def _docx_with_extra_member(tmp_path: Path, name: str, payload: bytes) -> Path:
    """A valid .docx plus one extra (unreferenced) zip member."""
    base = make_docx(tmp_path / "base.docx", lambda d: d.add_paragraph("Real content."))
    out = tmp_path / name
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("customXml/padding.bin", payload)
    return out


def test_docx_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = _docx_with_extra_member(tmp_path, "bomb.docx", bytes(40 * 2**20))
    assert path.stat().st_size < 2**20  # 40 MiB of zeros packs to a few dozen KiB
    err = load_error(path)
    assert "zip bomb" in err.reason
    inflated = re.search(r"would inflate to (\d+) MiB", err.reason)
    assert inflated is not None
    assert 40 <= int(inflated.group(1)) <= 42


def test_highly_compressible_but_small_docx_is_accepted(tmp_path: Path) -> None:
    # Ratio far above 200, but the total stays under the 16 MiB threshold.
    path = _docx_with_extra_member(tmp_path, "padded.docx", bytes(8 * 2**20))
    assert load_document(path).text == "Real content."


def test_docx_over_the_uncompressed_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _docx_with_extra_member(tmp_path, "big.docx", os.urandom(64 * 1024))
    assert load_document(path).text == "Real content."
    monkeypatch.setattr(docx_loader, "MAX_UNCOMPRESSED_BYTES", 32 * 1024)
    err = load_error(path)
    assert "refusing to open it" in err.reason


# ---------------------------------------------------------------------------------------------
# load_document: generic failures
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "empty.pdf", "e.docx"])
def test_empty_file_is_a_load_error(tmp_path: Path, name: str) -> None:
    err = load_error(write(tmp_path / name, b""))
    assert "empty" in err.reason


@pytest.mark.parametrize("content", [b"   \n\t\n  ", b"\r\n\r\n"])
def test_whitespace_only_file_is_a_load_error(tmp_path: Path, content: bytes) -> None:
    err = load_error(write(tmp_path / "blank.md", content))
    assert "empty" in err.reason


def test_whitespace_only_utf16_file_is_a_load_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path / "blank.txt", "  \n \n".encode("utf-16")))
    assert "no text" in err.reason


def test_file_over_max_bytes_is_a_load_error(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "x" * 100)
    err = load_error(path, max_bytes=99)
    assert "over the limit" in err.reason
    assert "--max-file-mb" in err.reason
    assert load_document(path, max_bytes=100).text == "x" * 100  # the limit is inclusive


@pytest.mark.parametrize(
    ("size", "max_bytes", "expected"),
    [
        (100, 99, "is 100 bytes, over the limit of 99 bytes"),
        (2, 1, "is 2 bytes, over the limit of 1 byte"),
        (3000, 2048, "is 2.9 KiB, over the limit of 2 KiB"),
        (1025, 1024, "is 1,025 bytes, over the limit of 1,024 bytes"),
        (5 * 2**20 + 2**19, 5 * 2**20, "is 5.5 MiB, over the limit of 5 MiB"),
        (2 * 2**20, 1536 * 1024, "is 2 MiB, over the limit of 1.5 MiB"),
    ],
)
def test_size_limit_message_uses_human_units(
    tmp_path: Path, size: int, max_bytes: int, expected: str
) -> None:
    err = load_error(write(tmp_path / "big.txt", b"x" * size), max_bytes=max_bytes)
    assert err.reason.startswith(expected + ";"), err.reason


def test_file_over_the_limit_is_rejected_before_parsing(tmp_path: Path) -> None:
    # Garbage that would otherwise fail as "not a zip": the size check comes first.
    err = load_error(write(tmp_path / "huge.docx", b"junk" * 1000), max_bytes=1000)
    assert "over the limit" in err.reason


@pytest.mark.parametrize("name", ["data.csv", "slides.pptx", "README"])
def test_unsupported_suffix_is_a_load_error(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "a,b\n1,2\n")
    err = load_error(path)
    assert "unsupported file type" in err.reason


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    err = load_error(tmp_path / "nowhere.md")
    assert "cannot be read" in err.reason


def test_directory_with_a_supported_suffix_is_a_load_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder.md"
    folder.mkdir()
    err = load_error(folder)
    assert "cannot be read" in err.reason


def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    errors: list[LoadError] = []

    def load() -> None:
        try:
            load_document(fifo)
        except LoadError as exc:
            errors.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():  # blocked in open(): connect a writer so the thread can finish
        for _ in range(2):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(timeout=2)
        pytest.fail("load_document() blocked reading a named pipe")
    assert len(errors) == 1
    assert errors[0].path == str(fifo.resolve())
    assert "named pipe" in errors[0].reason
    assert "not a regular file" in errors[0].reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_a_load_error(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", "hidden")
    path.chmod(0)
    try:
        err = load_error(path)
    finally:
        path.chmod(0o644)
    assert "permission denied" in err.reason


def test_load_error_is_a_ragfusion_error() -> None:
    err = LoadError("/x/y.txt", "is broken")
    assert isinstance(err, RagfusionError)
    assert str(err) == "/x/y.txt: is broken"
    assert (err.path, err.reason) == ("/x/y.txt", "is broken")


# ---------------------------------------------------------------------------------------------
# Document ids and content hashes
# ---------------------------------------------------------------------------------------------


def test_document_id_is_stable_for_the_same_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "docs" / "a.md", "# A\n\nText.\n")
    first = load_document(path)
    assert load_document(path).doc_id == first.doc_id
    monkeypatch.chdir(tmp_path)
    relative = load_document(Path("docs") / "a.md")
    assert relative.doc_id == first.doc_id
    assert relative.source == first.source == str(path.resolve())
    dotted = load_document(Path("docs") / ".." / "docs" / "a.md")
    assert dotted.doc_id == first.doc_id


def test_document_id_differs_between_paths_with_equal_content(tmp_path: Path) -> None:
    a = load_document(write(tmp_path / "a.md", "# Same\n"))
    b = load_document(write(tmp_path / "sub" / "a.md", "# Same\n"))
    assert a.content_hash == b.content_hash
    assert a.doc_id != b.doc_id


def test_content_hash_follows_the_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "note.txt", "version one\n")
    before = load_document(path)
    assert before.content_hash == hashlib.blake2b(b"version one\n", digest_size=32).hexdigest()
    write(path, "version two\n")
    after = load_document(path)
    assert after.doc_id == before.doc_id
    assert after.content_hash != before.content_hash
    write(path, "version one\n")
    assert load_document(path).content_hash == before.content_hash


def test_content_hash_sees_changes_that_extraction_hides(tmp_path: Path) -> None:
    path = write(tmp_path / "page.html", "<p>Same text</p>")
    before = load_document(path)
    write(path, "<p>Same   text</p><!-- a comment -->")
    after = load_document(path)
    assert after.text == before.text
    assert after.content_hash != before.content_hash


# ---------------------------------------------------------------------------------------------
# discover()
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    write(root / "a.md", "# A\n")
    write(root / "b.TXT", "b\n")
    write(root / "sub" / "c.html", "<p>c</p>")
    write(root / "sub" / "deeper" / "d.pdf", SAFETY_PDF.read_bytes())
    write(root / "sub" / "e.docx", b"not really")
    write(root / "sub" / "f.htm", "<p>f</p>")
    write(root / "g.markdown", "g\n")
    write(root / "h.text", "h\n")
    write(root / "photo.png", b"\x89PNG")
    write(root / "Makefile", "all:\n")
    write(root / ".hidden.md", "# hidden\n")
    write(root / ".env", "SECRET=1\n")
    write(root / ".git" / "notes.md", "# in a hidden folder\n")
    write(root / "sub" / ".cache" / "x.txt", "cached\n")
    return root


def test_discover_recurses_and_skips_hidden_entries(tree: Path) -> None:
    files, skipped = discover([tree])
    relative = sorted(str(f.relative_to(tree.resolve())) for f in files)
    assert relative == [
        "a.md",
        "b.TXT",
        "g.markdown",
        "h.text",
        "sub/c.html",
        "sub/deeper/d.pdf",
        "sub/e.docx",
        "sub/f.htm",
    ]
    assert all(f.is_absolute() for f in files)
    skipped_names = sorted(Path(s.path).name for s in skipped)
    assert skipped_names == ["Makefile", "photo.png"]
    assert not any("hidden" in s.path or ".git" in s.path or ".env" in s.path for s in skipped)


def test_discover_explains_unsupported_files(tree: Path) -> None:
    _, skipped = discover([tree])
    by_name = {Path(s.path).name: s for s in skipped}
    png = by_name["photo.png"]
    assert isinstance(png, Skipped)
    assert "unsupported file type '.png'" in png.reason
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in png.reason
    assert "'(none)'" in by_name["Makefile"].reason


def test_discover_reports_missing_paths(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    files, skipped = discover([missing])
    assert files == []
    assert skipped == [Skipped(str(missing), "does not exist; check the path")]


def test_discover_counts_duplicates_once(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    a = tree / "a.md"
    files, skipped = discover([a, a, "a.md", tree / "sub" / ".." / "a.md", tree, str(tree)])
    assert files.count(a.resolve()) == 1
    assert len(files) == len(set(files)) == 8
    assert sorted(Path(s.path).name for s in skipped) == ["Makefile", "photo.png"]


def test_discover_deduplicates_symlinks_to_the_same_file(tmp_path: Path) -> None:
    real = write(tmp_path / "real.md", "# R\n")
    (tmp_path / "link.md").symlink_to(real)
    files, _ = discover([tmp_path])
    assert files == [real.resolve()]


def test_discover_takes_explicit_files_even_if_hidden(tmp_path: Path) -> None:
    hidden = write(tmp_path / ".notes.md", "# N\n")
    hidden_other = write(tmp_path / ".config", "x")
    files, skipped = discover([hidden, hidden_other])
    assert files == [hidden.resolve()]
    assert [s.path for s in skipped] == [str(hidden_other)]
    assert "unsupported" in skipped[0].reason


def test_discover_reports_special_files(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    files, skipped = discover([fifo])
    assert files == []
    assert skipped == [Skipped(str(fifo), "is neither a regular file nor a folder")]


def test_discover_does_not_return_named_pipes_found_in_folders(tmp_path: Path) -> None:
    write(tmp_path / "real.txt", "text\n")
    os.mkfifo(tmp_path / "pipe.txt")
    files, _ = discover([tmp_path])
    assert [f.name for f in files] == ["real.txt"]


def test_discover_explains_special_and_broken_entries_in_folders(tmp_path: Path) -> None:
    write(tmp_path / "real.md", "# R\n")
    os.mkfifo(tmp_path / "pipe.txt")
    os.mkfifo(tmp_path / "fifo")  # no suffix: the kind of file is what matters
    (tmp_path / "dangling.md").symlink_to(tmp_path / "gone.md")
    files, skipped = discover([tmp_path])
    assert files == [(tmp_path / "real.md").resolve()]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons == {
        "dangling.md": "is a broken symbolic link",
        "fifo": "is a named pipe (FIFO), not a regular file",
        "pipe.txt": "is a named pipe (FIFO), not a regular file",
    }


def test_discover_accepts_mixed_inputs_in_order(tmp_path: Path) -> None:
    first = write(tmp_path / "one" / "z.md", "# Z\n")
    second = write(tmp_path / "two" / "a.md", "# A\n")
    files, skipped = discover([str(tmp_path / "one"), second, tmp_path / "missing.md"])
    assert files == [first.resolve(), second.resolve()]
    assert [Path(s.path).name for s in skipped] == ["missing.md"]


def test_every_discovered_example_file_is_loadable() -> None:
    files, skipped = discover([KB])
    assert skipped == []
    assert sorted(files) == sorted(p.resolve() for p in EXAMPLE_FILES)
    documents = [load_document(f) for f in files]
    assert len({d.doc_id for d in documents}) == len(documents)
