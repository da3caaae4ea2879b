"""The report through the staff API (/api/v1): JSON figures and file exports."""

from flask import Response

from controller.api import endpoint
from controller.auth.roles import Perm
from controller.reports import exports, requests, service
from controller.reports.schemas import ExportQuery, ReportOut, ReportQuery
from controller.types import utcnow

MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}

FILES = {media: f"the report as {fmt}" for fmt, media in MIMETYPES.items()}  # for OpenAPI


def make_report(user, query: ReportQuery) -> service.Report:
    """The report a user asked for, limited to their offices."""
    now = utcnow()
    period = requests.period_of(query, now)
    return service.build(period, requests.offices_of(user, query.office_id), now)


def export_response(report: service.Report, query: ExportQuery) -> Response:
    """The report as a file to download."""
    if query.format == "xlsx":
        data = exports.xlsx(report)
    else:
        data = exports.csv_bytes(report, query.view, query.decimal_comma)
    name = exports.filename(report, query.format)
    charset = "; charset=utf-8" if query.format == "csv" else ""
    return Response(data, content_type=MIMETYPES[query.format] + charset,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@endpoint("/reports", summary="Usage indicators of a month or range of days", tag="reports",
          perm=Perm.REPORTS_READ, query=ReportQuery, response=ReportOut,
          errors=(404, 422))  # fmt: skip
def get_report(user, query: ReportQuery):
    """Figures per office, device and month, in Europe/Warsaw time, for the caller's offices."""
    return requests.out(make_report(user, query))


@endpoint("/reports/export", summary="Export a report as XLSX or CSV", tag="reports",
          perm=Perm.REPORTS_READ, query=ExportQuery, response=FILES,
          errors=(404, 422))  # fmt: skip
def export_report(user, query: ExportQuery):
    """An XLSX workbook (a sheet per view and the definitions) or one view as CSV."""
    return export_response(make_report(user, query), query)
