"""Monthly snapshots: a closed month's figures frozen once, never changed afterwards.

The scheduler's report_snapshot schedules freeze last month through the hook registered
here. A month is frozen per office: an office already frozen for a month is left alone, so
running the snapshot again (or late) changes nothing. Reports of a frozen month read the
snapshot and show what a recomputation finds in addition as a correction.
"""

from datetime import date, datetime

from sqlalchemy import select, update

from controller.extensions import db
from controller.offices.models import Office
from controller.reports import indicators
from controller.reports.models import OFFICE_ROW, ReportSnapshot
from controller.reports.periods import last_closed_month, month_period
from controller.scheduler.hooks import register_snapshot_hook
from controller.types import utcnow


def freeze(month: date, office_ids=None, now: datetime | None = None) -> int:
    """Freeze a closed month for the offices not frozen yet; returns how many were frozen."""
    now = now or utcnow()
    if month > last_closed_month(now):
        raise ValueError(f"{month:%Y-%m} is not closed yet")
    stmt = select(Office.id)
    if office_ids is not None:
        stmt = stmt.where(Office.id.in_(office_ids))
    done = set(db.session.scalars(
        select(ReportSnapshot.office_id).where(ReportSnapshot.month == month,
                                               ReportSnapshot.device_id == OFFICE_ROW)
    ))  # fmt: skip
    todo = sorted(set(db.session.scalars(stmt)) - done)
    if not todo:
        return 0
    source = indicators.fingerprint(month_period(month))
    offices, devices = indicators.compute(month_period(month), todo, now)
    names = _device_names(todo)
    stamp = utcnow()
    for office_id in todo:
        db.session.add(ReportSnapshot(month=month, office_id=office_id, device_id=OFFICE_ROW,
                                      figures=offices.get(office_id, indicators.empty()),
                                      frozen_at=stamp, source=source,
                                      details_purged=False))  # fmt: skip
    for device_id, figures in devices.items():
        if device_id in names:
            office_id, name, kind = names[device_id]
            db.session.add(ReportSnapshot(month=month, office_id=office_id, device_id=device_id,
                                          device_name=name, device_kind=kind, figures=figures,
                                          frozen_at=stamp, source=source,
                                          details_purged=False))  # fmt: skip
    db.session.flush()
    return len(todo)


def _device_names(office_ids) -> dict:
    from controller.devices.models import Device

    rows = db.session.execute(select(Device.id, Device.office_id, Device.name, Device.kind)
                              .where(Device.office_id.in_(office_ids)))  # fmt: skip
    return {i: (o, n, str(k)) for i, o, n, k in rows}


def frozen(month: date, office_ids) -> list[ReportSnapshot]:
    """The snapshot rows of a month for the offices (None: all), offices first."""
    stmt = select(ReportSnapshot).where(ReportSnapshot.month == month)
    if office_ids is not None:
        stmt = stmt.where(ReportSnapshot.office_id.in_(office_ids))
    return list(db.session.scalars(stmt.order_by(ReportSnapshot.office_id,
                                                 ReportSnapshot.device_id)))  # fmt: skip


def frozen_months(months: list[date], office_ids) -> set[date]:
    """Which of the months are frozen for every one of the offices."""
    if not months:
        return set()
    stmt = select(ReportSnapshot.month, ReportSnapshot.office_id).where(
        ReportSnapshot.month.in_(months), ReportSnapshot.device_id == OFFICE_ROW
    )
    if office_ids is not None:
        stmt = stmt.where(ReportSnapshot.office_id.in_(office_ids))
    seen: dict = {}
    for month, office_id in db.session.execute(stmt):
        seen.setdefault(month, set()).add(office_id)
    wanted = set(office_ids) if office_ids is not None else set(
        db.session.scalars(select(Office.id)))  # fmt: skip
    return {m for m, ids in seen.items() if wanted <= ids}


def mark_purged(before: datetime) -> int:
    """Note on the snapshots of months whose session details are being purged."""
    months = [m for m in db.session.scalars(select(ReportSnapshot.month).distinct())
              if month_period(m).end <= before]  # fmt: skip
    if not months:
        return 0
    return db.session.execute(update(ReportSnapshot).where(ReportSnapshot.month.in_(months))
                              .values(details_purged=True)).rowcount  # fmt: skip


@register_snapshot_hook
def snapshot_last_month(scheduled_for: datetime, office_id: int | None) -> str:
    """The scheduler's hook: freeze the month before the one the run was scheduled in."""
    month = last_closed_month(scheduled_for)
    count = freeze(month, None if office_id is None else [office_id], scheduled_for)
    return f"{month:%Y-%m}: {count} offices frozen"
