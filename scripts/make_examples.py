"""Regenerate the binary sample files (PDF and DOCX) of the example corpus.

This is a development tool, not part of the ragfusion package. The example
corpus under ``examples/kb/`` is the support knowledge base of a fictional
product (the Lumora HX2 air purifier). Most of it is plain Markdown, HTML and
text, but a few documents are binary formats so that the loaders for those
formats can be exercised. Their text lives in this script, and the generated
files are committed to the repository; run the script again after editing the
text to regenerate them:

    python scripts/make_examples.py

Requirements (install them in a throwaway virtual environment, they are not
project dependencies): ``python-docx`` and ``fpdf2``.

The source text uses a tiny line-based markup:

* ``# Title`` - the document title
* ``## Heading`` - a top-level section (Heading 1 in Word)
* ``### Heading`` - a subsection (Heading 2 in Word)
* ``- item`` - a bullet point
* ``| a | b |`` - a table row (first row is the header; DOCX only)
* anything else - paragraph text; consecutive lines are joined

PDFs use only the core Helvetica font and plain ASCII, so text extraction
(for example with pypdf) returns the text exactly. Creation dates and ZIP
timestamps are fixed, so repeated runs produce identical files.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from docx import Document
from docx.shared import Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "examples"

AUTHOR = "Lumora Labs (fictional)"
FIXED_DATE = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
ZIP_DATE = (2024, 6, 1, 12, 0, 0)

BlockKind = Literal["title", "h1", "h2", "bullet", "para", "table"]


@dataclass(frozen=True)
class Block:
    """One structural element of a sample document."""

    kind: BlockKind
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class SampleDoc:
    """A sample document: where it goes, its metadata and its source text."""

    path: str
    title: str
    subject: str
    footer: str
    source: str


_PREFIXES: tuple[tuple[str, BlockKind], ...] = (
    ("### ", "h2"),
    ("## ", "h1"),
    ("# ", "title"),
    ("- ", "bullet"),
)


def parse_blocks(source: str) -> list[Block]:
    """Turn the line-based markup described in the module docstring into blocks.

    Indented lines continue the preceding bullet or paragraph; a blank line
    ends the current block.
    """
    blocks: list[Block] = []
    kind: BlockKind | None = None
    lines: list[str] = []
    rows: list[tuple[str, ...]] = []

    def flush() -> None:
        nonlocal kind
        if kind == "table":
            blocks.append(Block("table", rows=tuple(rows)))
        elif kind is not None:
            blocks.append(Block(kind, " ".join(lines)))
        kind = None
        lines.clear()
        rows.clear()

    for raw in source.strip().splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("|"):
            if kind != "table":
                flush()
                kind = "table"
            rows.append(tuple(cell.strip() for cell in line.strip("|").split("|")))
            continue
        for prefix, prefix_kind in _PREFIXES:
            if line.startswith(prefix):
                flush()
                kind = prefix_kind
                lines.append(line.removeprefix(prefix))
                break
        else:
            if kind in (None, "table"):
                flush()
                kind = "para"
            lines.append(line)
        if kind in ("title", "h1", "h2"):
            flush()
    flush()
    return blocks


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------


class _SamplePdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110, 110, 110)
        text = f"{self.footer_text} - Page {self.page_no()} of {{nb}}"
        self.cell(0, 10, text, align="C")
        self.set_text_color(0, 0, 0)


def build_pdf(doc: SampleDoc, out: Path) -> None:
    """Render ``doc`` as a text-based PDF with a document outline."""
    pdf = _SamplePdf(doc.footer)
    pdf.set_margins(left=20, top=20, right=20)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.set_title(doc.title)
    pdf.set_author(AUTHOR)
    pdf.set_subject(doc.subject)
    pdf.set_creator("ragfusion scripts/make_examples.py")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_page()

    body = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    for block in parse_blocks(doc.source):
        match block.kind:
            case "title":
                pdf.start_section(block.text, level=0)
                pdf.set_font("Helvetica", style="B", size=18)
                pdf.multi_cell(0, 9, block.text, **body)
                pdf.ln(3)
            case "h1" | "h2":
                level = 1 if block.kind == "h1" else 2
                if pdf.get_y() > pdf.h - 50:
                    pdf.add_page()
                pdf.ln(3)
                pdf.start_section(block.text, level=level)
                pdf.set_font("Helvetica", style="B", size=13 if level == 1 else 11.5)
                pdf.multi_cell(0, 7, block.text, **body)
                pdf.ln(1)
            case "bullet":
                pdf.set_font("Helvetica", size=10.5)
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(5, 5.5, "-")
                pdf.multi_cell(0, 5.5, block.text, **body)
                pdf.ln(0.8)
            case "para":
                pdf.set_font("Helvetica", size=10.5)
                pdf.multi_cell(0, 5.5, block.text, **body)
                pdf.ln(2.5)
            case "table":
                raise ValueError(f"{doc.path}: tables are not supported in PDFs")
    out.write_bytes(bytes(pdf.output()))


# --------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite a ZIP archive with fixed timestamps so the output is reproducible."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return buffer.getvalue()


def build_docx(doc: SampleDoc, out: Path) -> None:
    """Render ``doc`` as a Word document using the built-in heading styles."""
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)

    props = document.core_properties
    props.title = doc.title
    props.subject = doc.subject
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = doc.footer
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    for block in parse_blocks(doc.source):
        match block.kind:
            case "title":
                document.add_heading(block.text, level=0)
            case "h1":
                document.add_heading(block.text, level=1)
            case "h2":
                document.add_heading(block.text, level=2)
            case "bullet":
                document.add_paragraph(block.text, style="List Bullet")
            case "para":
                document.add_paragraph(block.text)
            case "table":
                header, *rest = block.rows
                table = document.add_table(rows=1, cols=len(header), style="Table Grid")
                for cell, text in zip(table.rows[0].cells, header, strict=True):
                    cell.text = text
                    for run in cell.paragraphs[0].runs:
                        run.bold = True
                for row in rest:
                    cells = table.add_row().cells
                    for cell, text in zip(cells, row, strict=True):
                        cell.text = text

    section = document.sections[0]
    section.footer.paragraphs[0].text = doc.footer

    buffer = io.BytesIO()
    document.save(buffer)
    out.write_bytes(_normalize_zip(buffer.getvalue()))


# --------------------------------------------------------------------------
# Document text
# --------------------------------------------------------------------------

TECH_SPECS = SampleDoc(
    path="kb/manuals/technical-specifications.pdf",
    title="Lumora HX2 Technical Specifications",
    subject="Technical data for the Lumora HX2 smart air purifier",
    footer="Lumora Labs - LHX2-TS-01 rev. C",
    source="""
# Lumora HX2 Technical Specifications

Document LHX2-TS-01, revision C. This sheet lists the technical data for the
Lumora HX2 smart air purifier, model number LHX2-100. All values are measured
with a new LF-13 filter installed, at 230 V and 25 C, unless stated otherwise.

## General

- Product name: Lumora HX2 smart air purifier
- Model number: LHX2-100
- Dimensions (W x D x H): 28 x 28 x 62 cm
- Weight: 6.2 kg with the filter installed, 5.1 kg without it
- Housing: matte white or graphite ABS plastic with an aluminium top grille
- Airflow path: 360-degree side intake, vertical outlet through the top grille

## Performance

- Clean air delivery rate (CADR) for smoke: 310 m3/h
- Clean air delivery rate (CADR) for pollen: 330 m3/h
- Recommended room size: up to 48 m2 (about 520 sq ft)
- Fan speeds: 5 (Sleep, 1, 2, 3 and Turbo)
- Noise level: 24 dB(A) in Sleep mode, 52 dB(A) at Turbo
- Filter: one LF-13 three-stage cartridge with an H13 HEPA layer

The recommended room size assumes a ceiling height of 2.5 m and about 2.5
complete air changes per hour at Turbo speed. In smaller rooms the purifier
reaches the same air quality faster and can run at a quieter speed.

## Electrical

- Power adapter input: 100-240 V AC, 50/60 Hz
- Purifier input: 24 V DC, 2.0 A
- Power consumption: 45 W at Turbo, 2.5 W in Sleep mode
- Standby power: less than 0.8 W
- Power cable length: 1.8 m

The purifier uses a brushless DC fan motor with a rated life of 50,000 hours.
Running around the clock at speed 2, a typical purifier uses about 0.3 kWh
per day.

## Sensors

- Particle sensor: laser scattering, reports PM1.0, PM2.5 and PM10
- Gas sensor: metal-oxide VOC sensor, reports a VOC index from 1 to 500
- Climate sensor: temperature and relative humidity
- Ambient light sensor: dims the display automatically in a dark room

The particle sensor reports new values every 2 seconds. The app stores one
averaged value per minute.

## Connectivity

- Wi-Fi: 802.11 b/g/n, 2.4 GHz band only
- Bluetooth: Bluetooth Low Energy 5.0, used only during setup
- Cloud: encrypted TLS 1.2 or newer connection to the Lumora cloud service
- Smart home: Amazon Alexa and Google Home through the Lumora Home app

## Display and controls

- Touch control panel with five buttons: Power, Mode, Fan, Timer and Wi-Fi
- Two-digit LED display for air quality and error codes
- Color light ring with four brightness levels, can be switched off
- Off-timer settings: 1, 2, 4 or 8 hours
""",
)

SAFETY_MANUAL = SampleDoc(
    path="kb/manuals/safety-and-cleaning.pdf",
    title="Lumora HX2 Safety and Cleaning Manual",
    subject="Safety instructions and cleaning schedule for the Lumora HX2",
    footer="Lumora Labs - LHX2-SM-02 rev. B",
    source="""
# Lumora HX2 Safety and Cleaning Manual

Read these instructions before you use the Lumora HX2 for the first time,
and keep them for later reference. This manual covers safe use, the
operating environment and the cleaning routine that keeps the purifier and
its sensors accurate.

## Important safety instructions

- Use only the 24 V power adapter supplied with the purifier.
- Do not use the purifier in a bathroom, near a pool or anywhere it could
  get wet. Never touch the plug with wet hands.
- Do not put fingers or objects into the air inlets or the top grille.
- Do not sit or stand on the purifier, and do not place objects on top of it.
- Do not cover the air inlets or the outlet while the purifier is running.
- Always unplug the purifier before you clean it or change the filter.
- Children aged 8 and older may use the purifier under supervision.
  Cleaning must not be done by children without supervision.
- If the power cable or the adapter is damaged, stop using them and contact
  Lumora Support for a replacement.

## Operating environment

- Indoor use only.
- Room temperature: 0 to 40 C.
- Relative humidity: up to 85%, non-condensing.
- Do not use the purifier in rooms where flammable gases, solvents or
  aerosol sprays are in use.

If you move the purifier from a cold place to a warm room, wait 2 hours
before you switch it on, so that any condensation can dry.

## Moving and storing the purifier

Carry the purifier with both hands using the grip recesses on the sides.
Do not lift it by the top grille. If you do not plan to use the purifier for
more than 4 weeks, remove the filter, seal it in a plastic bag and store the
purifier upright in a dry place.

## Cleaning schedule

- Outer housing: wipe every week with a soft, dry microfiber cloth.
- Top grille: vacuum every month with a soft brush attachment.
- Air quality sensor lens: clean every 3 months with a dry cotton swab.
- Pre-filter and main filter: follow the Filter Care and Replacement guide.

Clean the sensor lens more often if the purifier runs in a dusty room or
near a kitchen, or if the air quality reading seems wrong.

## Cleaning the air quality sensor

The particle sensor sits behind a small cover on the left side of the
purifier, marked with a dot. Dust on the sensor lens makes the readings too
high or too low, and Auto mode then runs the fan at the wrong speed.

### Steps

- Turn off the purifier and unplug it.
- Slide the sensor cover down to open it.
- Gently wipe the lens with a dry cotton swab. Use a second, clean swab to
  remove any remaining dust.
- Close the sensor cover until it clicks, then plug the purifier back in.
- Wait about 90 seconds for the sensor to warm up before you check the
  reading.

Never use water, alcohol or cleaning sprays on the sensor, and do not blow
compressed air into the opening, because it can push dust further inside.

## What not to use

Do not use solvents, bleach, abrasive pads, polish or furniture spray on any
part of the purifier. These can damage the housing and leave residues that
the sensors pick up as pollution. Do not let water run into the inlets.

## Disposal

At the end of its life, take the purifier to an electronics recycling point.
Do not put it in household waste. Used filters can go in household waste.
""",
)

SUBSCRIPTIONS = SampleDoc(
    path="kb/billing/subscription-plans.docx",
    title="Lumora Care Subscription Plans and Billing",
    subject="Lumora Care plans, prices, billing and cancellation",
    footer="Lumora Labs - Billing guide - All prices in US dollars",
    source="""
# Lumora Care Subscription Plans and Billing

Lumora Care is an optional subscription for owners of Lumora air purifiers.
Your purifier and the Lumora Home app work fully without a paid plan; a
subscription adds longer history, automatic filter deliveries and priority
support. This document describes the plans, how billing works and how to
cancel.

## Plans

| Plan | Monthly price | Yearly price | Purifiers covered |
| Lumora Care Basic | Free | Free | Unlimited |
| Lumora Care Plus | $4.99 | $49.00 | 1 |
| Lumora Care Family | $8.99 | $89.00 | Up to 4 |

### Lumora Care Basic

Basic is included with every Lumora account at no cost. It gives you remote
control, schedules, firmware updates and 7 days of air quality history in
the Lumora Home app.

### Lumora Care Plus

Lumora Care Plus costs $4.99 per month or $49.00 per year. It includes
everything in Basic, plus:

- 12 months of air quality history.
- Automatic filter delivery: a new LF-13 filter is shipped when the app
  reports 15% filter life remaining, with free standard shipping.
- 10% off accessories in the Lumora online store.
- Priority support by chat, with a typical first reply within 1 hour.

New subscribers can try Lumora Care Plus free for 14 days. You are not
charged if you cancel before the trial ends.

### Lumora Care Family

Lumora Care Family costs $8.99 per month or $89.00 per year and gives every
Plus benefit for up to 4 purifiers on the same account. Each purifier gets
its own automatic filter deliveries.

## Billing

### Billing dates

You are charged on the day you start a paid plan, or on the day your free
trial ends. After that, you are charged on the same day each month or each
year. If that day does not exist in a month, for example the 31st, you are
charged on the last day of that month.

### Payment methods

We accept Visa, Mastercard and American Express credit and debit cards, and
PayPal. If you subscribed through the App Store or Google Play, Apple or
Google bills you, and you manage the subscription in your phone's
subscription settings rather than in the Lumora account.

### Failed payments

If a payment fails, we try again 3 times over the next 7 days and email you
each time. If all attempts fail, your plan changes to Lumora Care Basic.
Your history older than 7 days is kept for 30 days in case you subscribe
again.

### Changing plans

Upgrades, for example from Plus to Family, take effect immediately. You pay
the difference for the rest of the current billing period. Downgrades take
effect at the start of the next billing period.

## Cancellation and refunds

### How to cancel

Open the Lumora Home app and go to Settings > Subscription > Cancel plan.
Your plan stays active until the end of the period you have already paid
for, and then changes to Lumora Care Basic.

### Refunds

Monthly payments are not refundable. If you cancel a yearly plan within 14
days of being charged, we refund the full yearly price. After 14 days, the
yearly plan stays active until the end of the year and is not refunded.

Returning a purifier does not cancel your subscription. Cancel the plan
separately in the app.
""",
)

DOCUMENTS: tuple[SampleDoc, ...] = (TECH_SPECS, SAFETY_MANUAL, SUBSCRIPTIONS)


def main(argv: list[str] | None = None) -> None:
    """Generate every document in ``DOCUMENTS`` under the output directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output directory (default: {DEFAULT_OUT})",
    )
    args = parser.parse_args(argv)

    for doc in DOCUMENTS:
        target: Path = args.out / doc.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".pdf":
            build_pdf(doc, target)
        elif target.suffix == ".docx":
            build_docx(doc, target)
        else:
            raise ValueError(f"unsupported output type: {target}")
        print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
