"""Monthly snapshots: frozen once, corrections for late data, retention keeps the figures."""

from datetime import date

import pytest
from sqlalchemy import func, select

from controller.extensions import db
from controller.portal.models import PortalSession
from controller.reports import retention, service, snapshots
from controller.reports.models import ReportSnapshot
from controller.reports.periods import Period, month_period
from controller.scheduler import jobs
from controller.scheduler.models import Outcome, Schedule, ScheduleRun
from tests.reports.helpers import local, run_schedule, session, world

NOW = local("2026-12-15 12:00")
MAY = date(2026, 5, 1)


def test_a_frozen_month_does_not_change_and_late_data_shows_as_a_correction(app):
    a, b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-04 10:00", "2026-05-04 11:00", size=250_000_000)
    db.session.commit()
    assert snapshots.freeze(MAY, None, NOW) == 2
    assert snapshots.freeze(MAY, None, NOW) == 0  # again: nothing changes
    db.session.commit()
    # A gateway that was offline reports a session of May in June.
    session(a, d["gw_a"], "p2", "2026-05-20 18:00", "2026-05-20 20:00")
    db.session.commit()
    report = service.build(month_period(MAY), None, NOW)
    assert report.frozen
    office = next(r for r in report.offices if r.office_id == a.id)
    assert office.figures["sessions"] == 1 and office.figures["session_hours"] == 1.0
    assert office.correction == {"unique_users": 1, "sessions": 1, "session_hours": 2.0}
    assert report.months[0].correction == office.correction
    assert next(r for r in report.offices if r.office_id == b.id).correction is None
    gateway = next(r for r in report.devices if r.device_id == d["gw_a"].id)
    assert gateway.figures["sessions"] == 1 and gateway.correction["sessions"] == 1
    assert db.session.scalar(select(func.count()).select_from(ReportSnapshot)) == 2 + 4


def test_the_scheduler_freezes_last_month(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-11-30 23:30", "2026-12-01 00:30")
    run = run_schedule("report_snapshot", "30 0 1 * *", "2026-12-01 00:30")
    assert "2026-11: 2 offices frozen" in run.message
    row = db.session.get(ReportSnapshot, (date(2026, 11, 1), a.id, 0))
    assert row.figures["sessions"] == 1 and row.figures["session_hours"] == 0.5


def test_a_year_of_frozen_months_combines_them(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-01-10 10:00", "2026-01-10 11:00")
    session(a, d["gw_a"], "p1", "2026-02-10 10:00", "2026-02-10 12:00")
    session(a, d["gw_a"], "p2", "2026-02-10 10:00", "2026-02-10 10:30")
    db.session.commit()
    for month in (1, 2):
        snapshots.freeze(date(2026, month, 1), None, NOW)
    db.session.commit()
    report = service.build(Period(date(2026, 1, 1), date(2026, 2, 28)), None, NOW)
    assert report.frozen
    office = next(r for r in report.offices if r.office_id == a.id)
    assert office.figures["sessions"] == 3 and office.figures["session_hours"] == 3.5
    assert office.figures["unique_users"] == 1 + 2  # added up over months
    assert office.figures["peak_users"] == 2  # the highest month
    assert [m.figures["sessions"] for m in report.months] == [1, 2]


def test_retention_purges_old_details_and_keeps_the_figures(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2025-10-10 10:00", "2025-10-10 11:00")  # > 12 months ago
    session(a, d["gw_a"], "p1", "2026-06-10 10:00", "2026-06-10 11:00")
    db.session.commit()
    counts = retention.purge_details(NOW, 12)
    db.session.commit()
    assert counts["portal_sessions"] == 1
    assert counts["office_months_frozen"] == 2 * 2  # October and November 2025, two offices
    assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 1
    report = service.build(month_period(date(2025, 10, 1)), None, NOW)
    office = next(r for r in report.offices if r.office_id == a.id)
    assert office.figures["sessions"] == 1 and office.correction is None  # not "-1"


def test_the_purge_schedule_purges_session_details(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2024-10-10 10:00", "2024-10-10 11:00")
    schedule = Schedule(name="Purge", kind="purge", cron="30 3 * * *", created_by="t", args={})
    db.session.add(schedule)
    db.session.commit()
    run = db.session.get(ScheduleRun, jobs.execute(schedule.id, local("2026-12-02 03:30"), "t").id)
    assert run.outcome == Outcome.OK and run.details["portal_sessions"] == 1


def test_an_unchanged_frozen_month_is_not_recounted_and_an_open_session_ending_is(app, monkeypatch):
    a, _b, d = world()
    open_one = session(a, d["gw_a"], "p1", "2026-05-31 23:00", None,
                       last_update_at=local("2026-06-01 00:30"))  # fmt: skip
    db.session.commit()
    snapshots.freeze(MAY, None, NOW)
    db.session.commit()
    from controller.reports import indicators

    real = indicators._hotspot
    monkeypatch.setattr(indicators, "_hotspot", lambda *a: pytest.fail("recounted"))
    report = service.build(month_period(MAY), None, NOW)
    office = next(r for r in report.offices if r.office_id == a.id)
    assert office.figures["session_hours"] == 1.0 and office.correction is None
    monkeypatch.setattr(indicators, "_hotspot", real)
    open_one.ended_at = local("2026-06-01 00:00")  # the end arrives: still 1 h in May
    open_one.bytes_down = 10**9
    db.session.commit()
    office = next(r for r in service.build(month_period(MAY), None, NOW).offices
                  if r.office_id == a.id)  # fmt: skip
    assert office.correction == {"data_gb": 1.0}
