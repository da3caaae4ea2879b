"""The report page (filters, tables, charts; prints well) and its exports."""

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import ValidationError

from controller.auth.roles import Perm
from controller.errors import Invalid
from controller.offices import service as offices
from controller.reports import charts, periods
from controller.reports.api import export_response, make_report
from controller.reports.definitions import DEFINITIONS, label
from controller.reports.indicators import NAMES
from controller.reports.schemas import ExportQuery, ReportQuery
from controller.security import requires
from controller.types import utcnow
from controller.validation import field_messages

bp = Blueprint("reports", __name__, url_prefix="/reports")
_FILTERS = ("month", "since", "until", "office_id")
_EXPORT = (*_FILTERS, "format", "view", "decimal_comma")


def _args(names) -> dict:
    return {k: v for k in names if (v := request.args.get(k, "").strip()[:100])}


def _query(model, names):
    args = _args(names)
    try:
        return args, model.model_validate(args), {}
    except ValidationError as exc:
        return args, None, field_messages(exc)


@bp.get("/")
@requires(Perm.REPORTS_READ)
def index():
    """Indicators of a month or range of days for the user's offices, as tables and charts."""
    args, query, errors = _query(ReportQuery, _FILTERS)
    report = None
    if query is not None:
        try:
            report = make_report(current_user, query)
        except Invalid as exc:  # an office outside the user's is a 404 page, as everywhere
            errors = exc.fields
    if not args:
        args = {"month": f"{periods.last_closed_month(utcnow()):%Y-%m}"}
    page = render_template(
        "reports/index.html", report=report, filters=args, errors=errors, names=NAMES,
        label=label, definitions=DEFINITIONS, charts=_charts(report) if report else [],
        offices=offices.visible_offices(current_user),
    )  # fmt: skip
    return page, 400 if errors else 200


def _charts(report) -> list:
    months = [(f"{m.month:%Y-%m}", float(m.figures["sessions"])) for m in report.months]
    by_office = [(r.office, float(r.figures["session_hours"])) for r in report.offices]
    return [
        charts.trend(_("Hotspot sessions per month"), months),
        charts.comparison(_("Session hours per office"), by_office),
    ]


@bp.get("/export")
@requires(Perm.REPORTS_READ)
def export():
    """The report as XLSX or CSV; bad filters answer with the form and its errors."""
    args, query, errors = _query(ExportQuery, _EXPORT)
    if query is not None:
        try:
            return export_response(make_report(current_user, query), query)
        except Invalid as exc:
            errors = exc.fields
    page = render_template(
        "reports/index.html", report=None, filters=args, errors=errors, names=NAMES,
        label=label, definitions=DEFINITIONS, charts=[],
        offices=offices.visible_offices(current_user),
    )  # fmt: skip
    return page, 400
