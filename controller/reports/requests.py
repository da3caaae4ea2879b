"""Turning what a page, the API or the CLI asked for into a period and a set of offices."""

from datetime import datetime

from flask_babel import gettext as _

from controller.errors import Invalid
from controller.offices import service as offices
from controller.reports import periods
from controller.reports.periods import Period
from controller.reports.schemas import MonthOut, ReportOut, ReportQuery, RowOut
from controller.reports.service import Report, Row


def period_of(query: ReportQuery, now: datetime) -> Period:
    """The month, the range of days, or (neither given) the last closed month."""
    if query.month and (query.since or query.until):
        raise Invalid(_("The report is not valid."),
                      {"month": _("Give a month or a range of days, not both.")})  # fmt: skip
    if query.since or query.until:
        if not (query.since and query.until):
            missing = "until" if query.since else "since"
            raise Invalid(_("The report is not valid."), {missing: _("This field is required.")})
        return periods.check_range(query.since, query.until, now)
    if query.month:
        return periods.month_period(periods.parse_month(query.month, now))
    return periods.month_period(periods.last_closed_month(now))


def offices_of(user, office_id: int | None) -> list[int] | None:
    """One office of the user's (NotFound otherwise), or all of theirs (None: every office)."""
    if office_id is not None:
        return [offices.get_office(user, office_id).id]
    scope = user.office_scope()
    return None if scope is None else sorted(scope)


def _row(row: Row) -> RowOut:
    return RowOut(office_id=row.office_id, office=row.office, device_id=row.device_id,
                  device=row.device, kind=row.kind, figures=row.figures,
                  correction=row.correction)  # fmt: skip


def out(report: Report) -> ReportOut:
    """The report as the API shows it."""
    return ReportOut(
        first_day=report.period.first, last_day=report.period.last,
        time_zone=str(periods.ZONE), frozen=report.frozen, total=report.total,
        offices=[_row(r) for r in report.offices], devices=[_row(r) for r in report.devices],
        months=[MonthOut(month=f"{m.month:%Y-%m}", frozen=m.frozen, figures=m.figures,
                         correction=m.correction) for m in report.months],
    )  # fmt: skip
