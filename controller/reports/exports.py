"""Exports of a report: XLSX (a sheet per view, real numbers and dates, the definitions) and
CSV (UTF-8 with a BOM for Excel; optionally the Polish decimal comma, then `;` separated).

No visitor identifier of any kind is in a report, so none can reach an export.
"""

import csv
import io
from datetime import date

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from controller.reports.definitions import DEFINITIONS, label
from controller.reports.indicators import INDICATORS, NAMES
from controller.reports.service import Report

VIEWS = ("offices", "devices", "months")
_FORMATS = {"count": "#,##0", "hours": "#,##0.00", "GB": "#,##0.000", "percent": "0.00"}
_UNITS = {name: unit for name, unit, _sums in INDICATORS}


def _view(report: Report, view: str) -> tuple[list[str], list[list]]:
    """Header and rows of one view; numbers stay numbers and months stay dates."""
    figures = [label(n) for n in NAMES]
    if view == "offices":
        head = [_("Office"), *figures]
        rows = [[r.office, *(r.figures.get(n) for n in NAMES)] for r in report.offices]
        rows.append([_("Total"), *(report.total.get(n) for n in NAMES)])
    elif view == "devices":
        head = [_("Office"), _("Device"), _("Kind"), *figures]
        rows = [[r.office, r.device, r.kind, *(r.figures.get(n) for n in NAMES)]
                for r in report.devices]  # fmt: skip
    else:
        head = [_("Month"), _("Frozen"), *figures]
        rows = [[m.month, _("yes") if m.frozen else _("no"), *(m.figures.get(n) for n in NAMES)]
                for m in report.months]  # fmt: skip
    return head, rows


def _corrections(report: Report) -> list[list]:
    out = []
    for month in report.months:
        for row in month.rows:
            for name, value in (row.correction or {}).items():
                out.append([month.month, row.office, row.device, label(name), value])
    return out


def xlsx(report: Report) -> bytes:
    """The report as an Excel workbook."""
    book = Workbook()
    book.remove(book.active)
    titles = {"offices": _("Offices"), "devices": _("Devices"), "months": _("Months")}
    for view in VIEWS:
        sheet = book.create_sheet(titles[view][:31])
        head, rows = _view(report, view)
        sheet.append([_("Period"), report.period.first, report.period.last])
        for cell in sheet[1][1:3]:
            cell.number_format = "yyyy-mm-dd"
        sheet.append([])
        sheet.append(head)
        for cell in sheet[3]:
            cell.font = Font(bold=True)
        first = len(head) - len(NAMES)
        for values in rows:
            sheet.append(values)
            line = sheet[sheet.max_row]
            for cell, name in zip(line[first:], NAMES, strict=True):
                cell.number_format = _FORMATS[_UNITS[name]]
            if isinstance(values[0], date):
                line[0].number_format = "yyyy-mm"
        sheet.freeze_panes = sheet.cell(row=4, column=first + 1)
        for column, text in zip(sheet.columns, head, strict=False):
            sheet.column_dimensions[column[0].column_letter].width = max(12, len(str(text)) + 2)
    fixes = _corrections(report)
    if fixes:
        sheet = book.create_sheet(_("Corrections")[:31])
        sheet.append([_("Month"), _("Office"), _("Device"), _("Indicator"),
                      _("Change after the month was frozen")])  # fmt: skip
        for values in fixes:
            sheet.append(values)
            sheet[sheet.max_row][0].number_format = "yyyy-mm"
    sheet = book.create_sheet(_("Indicators")[:31])
    sheet.append([_("Indicator"), _("Unit"), _("Definition")])
    for name in NAMES:
        short, unit, text = DEFINITIONS[name]
        sheet.append([str(short), str(unit), str(text)])
    sheet.column_dimensions["A"].width, sheet.column_dimensions["C"].width = 30, 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(value, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%Y-%m")
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if decimal_comma else text
    return str(value)


def csv_bytes(report: Report, view: str = "offices", decimal_comma: bool = False) -> bytes:
    """One view of the report as CSV, UTF-8 with a BOM so that Excel reads it right."""
    head, rows = _view(report, view)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if decimal_comma else ",", lineterminator="\r\n")
    writer.writerow(head)
    for values in rows:
        writer.writerow([_text(v, decimal_comma) for v in values])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def filename(report: Report, extension: str) -> str:
    """A file name saying what the export covers."""
    period = report.period
    month = period.whole_month()
    span = f"{month:%Y-%m}" if month else f"{period.first:%Y-%m-%d}_{period.last:%Y-%m-%d}"
    return f"telecentre-report-{span}.{extension}"
