"""Report figures against expectations worked out by hand on a generated dataset.

Every test runs with the daily roll-up empty, filled for every day around the sessions, and
filled for every other day: the figures must not depend on it.
"""

from datetime import date

import pytest

from controller.extensions import db
from controller.reports import indicators
from controller.reports.periods import Period, month_period
from tests.reports.helpers import event, local, roll_up_around, session, usage, world

NOW = local("2026-12-15 12:00")


@pytest.fixture(autouse=True, params=["empty", "full", "partial"])
def rollup_state(request, monkeypatch):
    """indicators.compute, with the roll-up filled as the parameter says just before."""
    real = indicators.compute

    def compute(period, office_ids, now, hotspot=True):
        db.session.commit()
        if request.param != "empty":
            roll_up_around(now, every=1 if request.param == "full" else 2)
        return real(period, office_ids, now, hotspot)

    monkeypatch.setattr(indicators, "compute", compute)
    return request.param


def _compute(first: str, last: str, office_ids=None):
    return indicators.compute(Period(date.fromisoformat(first), date.fromisoformat(last)),
                              office_ids, NOW)  # fmt: skip


def test_a_session_across_a_month_end_is_split_between_the_months(app):
    a, _b, d = world()
    # 31 March 23:30 to 1 April 00:30 (CEST): half an hour in each month, counted in March.
    session(a, d["gw_a"], "p1", "2026-03-31 23:30", "2026-04-01 00:30", size=500_000_000)
    db.session.commit()
    march, devices = indicators.compute(month_period(date(2026, 3, 1)), None, NOW)
    april, _ = indicators.compute(month_period(date(2026, 4, 1)), None, NOW)
    assert march[a.id]["sessions"] == 1 and april[a.id]["sessions"] == 0
    assert march[a.id]["session_hours"] == 0.5 and april[a.id]["session_hours"] == 0.5
    assert march[a.id]["data_gb"] == 1.0 and april[a.id]["data_gb"] == 0.0
    assert march[a.id]["unique_users"] == 1 and april[a.id]["unique_users"] == 0
    assert devices[d["gw_a"].id]["sessions"] == 1


def test_a_session_across_midnight_is_split_between_the_days(app):
    a, _b, d = world()
    session(a, d["gw_a"], "p1", "2026-06-10 23:00", "2026-06-11 01:30")
    db.session.commit()
    first, _ = _compute("2026-06-10", "2026-06-10")
    second, _ = _compute("2026-06-11", "2026-06-11")
    assert (first[a.id]["session_hours"], second[a.id]["session_hours"]) == (1.0, 1.5)
    assert (first[a.id]["sessions"], second[a.id]["sessions"]) == (1, 0)


def test_the_spring_dst_change_makes_a_23_hour_day(app):
    a, _b, d = world()
    # 01:30 CET to 03:30 CEST is one hour of real time on 29 March 2026.
    session(a, d["gw_a"], "p1", "2026-03-29 01:30", "2026-03-29 03:30")
    # The gateway was online from before the day and went offline at 12:00 CEST:
    # 00:00 CET (23:00 UTC) to 12:00 CEST (10:00 UTC) is 11 h of the day's 23 h.
    event(d["gw_a"], "2026-03-20 08:00", "unknown", "online")
    event(d["gw_a"], "2026-03-29 12:00", "online", "offline")
    db.session.commit()
    period = Period(date(2026, 3, 29), date(2026, 3, 29))
    assert period.seconds == 23 * 3600
    offices, devices = indicators.compute(period, None, NOW)
    assert offices[a.id]["session_hours"] == 1.0
    assert devices[d["gw_a"].id]["availability"] == round(100 * 11 / 23, 2)
    assert offices[a.id]["availability"] == round(100 * 11 / 23, 2)
    assert offices[a.id]["active_access_points"] == 1


def test_the_autumn_dst_change_makes_a_25_hour_day(app):
    a, _b, d = world()
    # 25 October 2026: 02:00-03:00 happens twice. 01:00 CEST to 04:00 CET is 4 hours.
    session(a, d["gw_a"], "p1", "2026-10-25 01:00", "2026-10-25 04:00")
    event(d["gw_a"], "2026-10-01 08:00", "unknown", "online")
    event(d["gw_a"], "2026-10-25 13:00", "online", "offline")  # 14 h of 25 online
    db.session.commit()
    period = Period(date(2026, 10, 25), date(2026, 10, 25))
    assert period.seconds == 25 * 3600
    offices, _ = indicators.compute(period, None, NOW)
    assert offices[a.id]["session_hours"] == 4.0
    assert offices[a.id]["availability"] == 56.0


def test_peak_concurrent_users_and_unique_users(app):
    a, b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-04 10:00", "2026-05-04 11:00")
    session(a, d["gw_a"], "p2", "2026-05-04 10:30", "2026-05-04 12:00")
    session(a, d["gw_a"], "p1", "2026-05-04 10:45", "2026-05-04 10:50")  # 3 at once
    session(a, d["gw_a"], "p3", "2026-05-04 11:00", "2026-05-04 11:30")  # one ends as it starts
    session(b, d["gw_b"], "p1", "2026-05-04 10:00", "2026-05-04 10:10")  # same visitor, office B
    db.session.commit()
    offices, devices = _compute("2026-05-01", "2026-05-31")
    assert offices[a.id]["peak_users"] == 3 and offices[b.id]["peak_users"] == 1
    assert offices[a.id]["unique_users"] == 3 and offices[b.id]["unique_users"] == 1
    assert offices[a.id]["sessions"] == 4
    assert offices[a.id]["session_hours"] == round((60 + 90 + 5 + 30) / 60, 4)
    assert devices[d["gw_a"].id]["peak_users"] == 3


def test_pc_and_infomat_counters_count_by_local_day(app):
    a, _b, d = world()
    usage(d["pc_a"], "2026-05-31", "pc_sessions", 2)
    usage(d["pc_a"], "2026-05-31", "pc_seconds", 5400)
    usage(d["pc_a"], "2026-06-01", "pc_sessions", 1)
    usage(d["pc_a"], "2026-06-01", "pc_seconds", 1800)
    usage(d["kiosk_a"], "2026-06-15", "interaction_sessions", 7)
    db.session.commit()
    offices, devices = _compute("2026-06-01", "2026-06-30")
    assert offices[a.id]["pc_sessions"] == 1 and offices[a.id]["pc_hours"] == 0.5
    assert offices[a.id]["infomat_sessions"] == 7
    assert devices[d["kiosk_a"].id]["infomat_sessions"] == 7
    assert devices[d["pc_a"].id]["pc_hours"] == 0.5


def test_scope_limits_the_offices(app):
    a, b, d = world()
    session(a, d["gw_a"], "p1", "2026-05-04 10:00", "2026-05-04 11:00")
    session(b, d["gw_b"], "p2", "2026-05-04 10:00", "2026-05-04 11:00")
    db.session.commit()
    offices, devices = _compute("2026-05-01", "2026-05-31", [b.id])
    assert set(offices) == {b.id} and set(devices) == {d["gw_b"].id}


@pytest.mark.parametrize("state", ["online", "offline"])
def test_a_device_without_changes_keeps_its_state(app, state):
    a, _b, d = world()
    event(d["gw_a"], "2026-01-01 00:00", "unknown", state)
    db.session.commit()
    offices, _ = _compute("2026-05-01", "2026-05-31")
    assert offices[a.id]["availability"] == (100.0 if state == "online" else 0.0)


def test_an_office_with_two_gateways_counts_a_visitor_once_and_peaks_across_both(app):
    a, _b, d = world()
    from controller.devices.models import DeviceKind
    from tests.conftest import make_device

    second = make_device(a, name="GW-A2", kind=DeviceKind.GATEWAY)
    session(a, d["gw_a"], "p1", "2026-05-04 10:00", "2026-05-04 11:00")
    session(a, second, "p1", "2026-05-04 10:30", "2026-05-04 11:30")
    db.session.commit()
    offices, devices = _compute("2026-05-01", "2026-05-31")
    assert offices[a.id]["unique_users"] == 1 and offices[a.id]["peak_users"] == 2
    assert devices[second.id]["unique_users"] == 1 and devices[second.id]["peak_users"] == 1
