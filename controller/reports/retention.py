"""Retention of session details: old ones are deleted, their months' figures stay frozen and
their days' figures rolled up."""

from datetime import date, datetime

from sqlalchemy import delete, func, select

from controller.extensions import db
from controller.portal.models import PortalSession
from controller.reports import rollup, snapshots
from controller.reports.periods import local_midnight, next_month, today


def cutoff(now: datetime, months: int) -> datetime:
    """The start of the oldest whole month kept: the current month and `months` before it."""
    month = today(now).replace(day=1)
    total = month.year * 12 + month.month - 1 - months
    return local_midnight(date(total // 12, total % 12 + 1, 1))


def purge_details(now: datetime, months: int) -> dict:
    """Freeze every month about to lose its details and roll up its days, then delete ended
    sessions before it."""
    before = cutoff(now, months)
    oldest = db.session.scalar(select(func.min(PortalSession.started_at)))
    frozen = 0
    if oldest is not None and oldest < before:
        month = today(oldest).replace(day=1)
        while local_midnight(month) < before:
            frozen += snapshots.freeze(month, None, now)
            month = next_month(month)
    rolled = rollup.before_purge(before, now)
    deleted = db.session.execute(
        delete(PortalSession).where(PortalSession.started_at < before,
                                    PortalSession.ended_at.is_not(None))
    ).rowcount  # fmt: skip
    marked = snapshots.mark_purged(before)
    return {"portal_sessions": deleted, "office_months_frozen": frozen, "snapshots_marked": marked,
            "days_rolled_up": rolled}  # fmt: skip
