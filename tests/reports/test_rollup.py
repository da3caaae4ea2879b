"""The daily roll-up: used where it is current, bypassed where the sessions changed since,
kept through the retention purge, filled by its schedule."""

from datetime import date

import pytest
from sqlalchemy import func, select

from controller.extensions import db
from controller.portal.models import PortalSession
from controller.reports import indicators, retention, rollup, service, sessions, snapshots
from controller.reports.models import ReportDay, ReportMonthVisitor, ReportRollupDay
from controller.reports.periods import Period, month_period
from tests.reports.helpers import local, roll_up_around, run_schedule, session, world

NOW = local("2026-12-15 12:00")
MAY = date(2026, 5, 1)


def _office(period, office, now=NOW):
    offices, _devices = indicators.compute(period, None, now)
    return offices[office.id]


def _no_details(monkeypatch):
    """Fail the test if a figure is computed from the session details."""
    monkeypatch.setattr(sessions, "figures", lambda *a: pytest.fail("read the details"))


def test_a_rolled_up_month_is_read_from_the_roll_up_alone(app, monkeypatch):
    a, b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-04 23:00", "2026-05-05 01:00", size=10**9)
    session(a, d["gw_a"], "p2", "2026-05-05 00:30", "2026-05-05 00:45")
    session(b, d["gw_b"], "p1", "2026-05-31 23:30", "2026-06-01 00:30")
    db.session.commit()
    expected = _office(month_period(MAY), a)
    assert rollup.run(NOW)["rolled"] > 0
    day = db.session.get(ReportDay, (date(2026, 5, 5), a.id, 0))
    assert (day.sessions, day.seconds, day.peak) == (1, 3600 + 900, 2)
    assert db.session.get(ReportDay, (date(2026, 5, 5), a.id, d["gw_a"].id)).peak == 2
    _no_details(monkeypatch)
    assert _office(month_period(MAY), a) == expected
    assert _office(month_period(MAY), b)["session_hours"] == 0.5
    assert expected["session_hours"] == 2.25 and expected["peak_users"] == 2
    assert expected["unique_users"] == 2 and expected["data_gb"] == 2.0


def test_the_job_rolls_up_closed_days_only_and_once(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-12-13 10:00", "2026-12-13 11:00")
    session(a, d["gw_a"], "p2", "2026-12-15 09:00", None, last_update_at=local("2026-12-15 11:00"))
    db.session.commit()
    assert rollup.run(NOW) == {"checked": 14, "rolled": 14}  # 1st to 14th, not today
    assert rollup.run(NOW) == {"checked": 14, "rolled": 0}
    assert db.session.get(ReportRollupDay, date(2026, 12, 15)) is None
    figures = _office(Period(date(2026, 12, 1), date(2026, 12, 15)), a)
    assert figures["sessions"] == 2 and figures["session_hours"] == 3.0  # today: live


def test_a_late_session_after_the_roll_up_changes_the_report(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-04 10:00", "2026-05-04 11:00")
    db.session.commit()
    rollup.run(NOW)
    # A gateway that was offline reports a session of the 4th, overlapping the first.
    session(a, d["gw_a"], "p2", "2026-05-04 10:30", "2026-05-04 12:00", size=500_000_000)
    db.session.commit()
    assert date(2026, 5, 4) not in rollup.current_days(MAY, date(2026, 5, 31), NOW)
    figures = _office(month_period(MAY), a)
    assert (figures["sessions"], figures["unique_users"], figures["peak_users"]) == (2, 2, 2)
    assert figures["session_hours"] == 2.5 and figures["data_gb"] == 1.0
    assert rollup.run(NOW)["rolled"] >= 1  # the next night brings it up to date
    assert date(2026, 5, 4) in rollup.current_days(MAY, date(2026, 5, 31), NOW)
    assert _office(month_period(MAY), a) == figures


def test_a_session_ending_after_the_roll_up_is_counted_to_its_end(app):
    a, _b, d = world()
    open_one = session(a, d["gw_a"], "p1", "2026-05-04 23:00", None,
                       last_update_at=local("2026-05-05 00:30"))  # fmt: skip
    db.session.commit()
    rollup.run(NOW)
    assert _office(Period(date(2026, 5, 5), date(2026, 5, 5)), a)["session_hours"] == 0.5
    open_one.ended_at, open_one.bytes_down = local("2026-05-05 02:00"), 10**9
    db.session.commit()
    figures = _office(Period(date(2026, 5, 4), date(2026, 5, 5)), a)
    assert figures["session_hours"] == 3.0 and figures["data_gb"] == 1.0


def test_a_frozen_month_shows_a_late_session_as_a_correction_with_the_roll_up(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-04 10:00", "2026-05-04 11:00")
    db.session.commit()
    rollup.run(NOW)
    snapshots.freeze(MAY, None, NOW)
    db.session.commit()
    session(a, d["gw_a"], "p2", "2026-05-20 18:00", "2026-05-20 20:00")
    db.session.commit()
    rollup.run(NOW)  # whether or not the job ran since makes no difference
    office = next(r for r in service.build(month_period(MAY), None, NOW).offices
                  if r.office_id == a.id)  # fmt: skip
    assert office.figures["sessions"] == 1
    assert office.correction == {"unique_users": 1, "sessions": 1, "session_hours": 2.0}


def test_the_purge_keeps_the_rolled_up_figures(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2025-10-10 10:00", "2025-10-10 11:30", size=10**9)
    session(a, d["gw_a"], "p2", "2025-10-10 11:00", "2025-10-10 12:00")
    session(a, d["gw_a"], "p1", "2026-06-10 10:00", "2026-06-10 11:00")
    db.session.commit()
    october, ten_days = month_period(date(2025, 10, 1)), Period(date(2025, 10, 1),
                                                                 date(2025, 10, 10))  # fmt: skip
    before = _office(october, a), _office(ten_days, a)
    counts = retention.purge_details(NOW, 12)  # rolls up what it is about to purge
    db.session.commit()
    assert counts["portal_sessions"] == 2 and counts["days_rolled_up"] > 0
    assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 1
    assert _office(october, a) == before[0]
    assert before[0]["unique_users"] == 2 and before[0]["peak_users"] == 2
    # A part of a purged month: everything but unique users (kept per month) is still there.
    part = _office(ten_days, a)
    assert {k: v for k, v in part.items() if k != "unique_users"} == {
        k: v for k, v in before[1].items() if k != "unique_users"}  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(ReportMonthVisitor)) >= 2


def test_the_days_after_the_purge_keep_what_reached_into_them_from_before(app):
    """A session from the last purged day runs on past midnight: the next day's roll-up holds
    it, and rolling up again after the purge must not compute that day without it."""
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2025-11-30 23:00", "2025-12-01 01:00")
    session(a, d["gw_a"], "p2", "2025-12-01 00:30", "2025-12-01 00:45")
    db.session.commit()
    first = Period(date(2025, 12, 1), date(2025, 12, 1))
    rollup.run(NOW)
    db.session.commit()
    rolled = _office(first, a)
    assert (rolled["session_hours"], rolled["peak_users"]) == (1.25, 2)
    counts = retention.purge_details(NOW, 12)
    db.session.commit()
    assert counts["portal_sessions"] == 1  # the session started in November
    assert rollup.run(NOW)["rolled"] == 0
    after = _office(first, a)
    assert (after["session_hours"], after["peak_users"]) == (1.25, 2)
    late = session(a, d["gw_a"], "p3", "2025-12-02 10:00", "2025-12-02 11:00")
    db.session.commit()
    assert late is not None and rollup.run(NOW)["rolled"] >= 1  # a real change still counts
    assert _office(first, a)["session_hours"] == 1.25


def test_a_week_long_session_is_cut_seven_days_after_its_start(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-01 00:00", "2026-05-20 00:00")
    db.session.commit()
    live = _office(month_period(MAY), a)
    roll_up_around(NOW)
    assert live["session_hours"] == 7 * 24 == _office(month_period(MAY), a)["session_hours"]


def test_the_report_rollup_schedule_runs_the_job(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-11-01 10:00", "2026-11-01 11:00")
    run = run_schedule("report_rollup", "15 1 * * *", "2026-11-03 01:15")
    assert run.details["rolled"] >= 1 and "days rolled up" in run.message
    assert db.session.get(ReportDay, (date(2026, 11, 1), a.id, 0)).sessions == 1


def test_the_cli_rolls_up_at_once(app, runner):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-11-02 10:00", "2026-11-02 11:00")
    db.session.commit()
    result = runner.invoke(args=["report", "rollup"])
    assert result.exit_code == 0, result.output
    assert "days rolled up of" in result.output
    db.session.rollback()
    assert db.session.get(ReportDay, (date(2026, 11, 2), a.id, 0)).sessions == 1
    again = runner.invoke(args=["report", "rollup"])
    assert again.output.startswith("0 days rolled up")


def test_unique_users_of_months_and_of_parts_of_months_count_a_visitor_once(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-30 10:00", "2026-05-30 11:00")
    session(a, d["gw_a"], "p1", "2026-06-02 10:00", "2026-06-02 11:00")
    session(a, d["gw_a"], "p2", "2026-06-20 10:00", "2026-06-20 11:00")
    db.session.commit()
    ranges = [Period(date(2026, 5, 1), date(2026, 6, 30)),  # two whole months
              Period(date(2026, 5, 15), date(2026, 6, 15)),  # two parts
              Period(date(2026, 5, 1), date(2026, 6, 10))]  # a month and a part  # fmt: skip
    assert [_office(p, a)["unique_users"] for p in ranges] == [2, 1, 1]
    rollup.run(NOW)
    assert [_office(p, a)["unique_users"] for p in ranges] == [2, 1, 1]


def test_sessions_of_a_deleted_gateway_still_count_for_their_office(app):
    a, _b, d = world()
    gone = session(a, d["gw_a"], "p1", "2026-05-04 10:00", "2026-05-04 11:00")
    session(a, d["gw_a"], "p2", "2026-05-04 10:30", "2026-05-04 11:30")
    db.session.flush()
    gone.device_id = None  # what deleting the gateway does (ON DELETE SET NULL)
    db.session.commit()
    live = _office(month_period(MAY), a)
    rollup.run(NOW)
    assert _office(month_period(MAY), a) == live
    assert (live["sessions"], live["unique_users"], live["peak_users"]) == (2, 2, 2)
