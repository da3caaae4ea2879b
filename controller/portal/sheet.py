"""The printable ticket sheet of a new voucher batch, as PDF (the HTML one is a template)."""

from pathlib import Path

from flask_babel import format_datetime
from flask_babel import gettext as _
from fpdf import FPDF

# Debian's fonts-dejavu-core: the Polish letters; without it the sheet falls back to ASCII.
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ„”–—…", 'acelnoszzACELNOSZZ""--.')
COLUMNS, ROWS = 2, 6
CARD_W, CARD_H, MARGIN = 90.0, 42.0, 10.0


def describe(batch) -> list[str]:
    """The lines printed under each code: allowance and validity."""
    lines = [_("Time: %(n)d min", n=batch.seconds // 60)]
    if batch.bytes:
        lines.append(_("Data: %(n)d MB", n=batch.bytes // 1_000_000))
    lines.append(_("Valid until: %(when)s", when=format_datetime(batch.valid_until, "short")))
    return lines


def pdf(office_name: str, batch, codes: list[str]) -> bytes:
    """An A4 sheet of cut-out tickets, COLUMNS × ROWS per page."""
    doc = FPDF(format="A4", unit="mm")
    doc.set_auto_page_break(False)
    unicode = FONT.exists() and FONT_BOLD.exists()
    if unicode:
        doc.add_font("DejaVu", "", str(FONT))
        doc.add_font("DejaVu", "B", str(FONT_BOLD))
    family = "DejaVu" if unicode else "Helvetica"
    text = (lambda s: s) if unicode else _core_font_text
    lines = [text(line) for line in describe(batch)]
    title = text(_("Hotspot ticket — %(office)s", office=office_name))
    per_page = COLUMNS * ROWS
    for index, code in enumerate(codes):
        if index % per_page == 0:
            doc.add_page()
        slot = index % per_page
        x = MARGIN + (slot % COLUMNS) * (CARD_W + MARGIN / 2)
        y = MARGIN + (slot // COLUMNS) * (CARD_H + MARGIN / 2)
        doc.set_draw_color(120)
        doc.set_line_width(0.2)
        doc.rect(x, y, CARD_W, CARD_H)
        doc.set_xy(x + 3, y + 3)
        doc.set_font(family, "", 8)
        doc.cell(CARD_W - 6, 4, title[:70])
        doc.set_xy(x + 3, y + 10)
        doc.set_font(family, "B", 20)
        doc.cell(CARD_W - 6, 10, code, align="C")
        doc.set_font(family, "", 9)
        for n, line in enumerate(lines):
            doc.set_xy(x + 3, y + 23 + n * 5)
            doc.cell(CARD_W - 6, 5, line)
    return bytes(doc.output())


def _core_font_text(value: str) -> str:
    """What a core PDF font can show: Polish letters spelt plainly, anything else as "?"."""
    return value.translate(_ASCII).encode("latin-1", "replace").decode("latin-1")
