"""The coordinator's reports on SQLite: a month of 1,000,000 hotspot sessions, and a year's
XLSX export for 20 offices. Absolute figures against fixed targets (no baseline: nothing
else computes these indicators).

The month not frozen yet (the current month, or any month before the 1st's freeze) is
measured as production has it, after the nightly roll-up job ran: as a closed month, and as
the current month at noon of its last day (that day from the details; the data set's
afternoon sessions, in the future then, still count as started), and for the record also
with the roll-up empty (every figure from the session details). The roll-up job is timed
filling the whole year, and as a night when one busy day needs it. The frozen month is read
from its snapshot plus the check for late data; the year's export reads twelve frozen months.
"""

import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench import _agents, _controller
from bench._figures import Figure

OFFICES = 20
MONTH_SESSIONS = 1_000_000  # in the measured month, October 2025 (a DST change)
OTHER_MONTH_SESSIONS = 20_000  # in each other month of 2025
MONTH = date(2025, 10, 1)
BUSY_DAY = date(2025, 10, 15)  # the day the timed night rolls up
TODAY = datetime(2025, 10, 31, 11, 0, tzinfo=UTC)  # noon of the month's last day, Warsaw
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
REPORT_TARGET_S, EXPORT_TARGET_S = 1.0, 5.0


def _world():
    """20 offices, each with a gateway that went online once; returns [(office, gateway)]."""
    from controller.devices.models import Device, DeviceKind, Management
    from controller.extensions import db
    from controller.fleet.models import DeviceEvent
    from controller.offices.models import Office

    pairs = []
    created = datetime(2024, 12, 1, tzinfo=UTC)
    for i in range(OFFICES):
        office = Office(name=f"Urząd Gminy Bench {i:02d}", type="urzad_gminy")
        db.session.add(office)
        db.session.flush()
        gateway = Device(office_id=office.id, kind=DeviceKind.GATEWAY, name=f"GW-{i:02d}",
                         management=Management.AGENT, created_at=created)  # fmt: skip
        db.session.add(gateway)
        db.session.flush()
        db.session.add(DeviceEvent(device_id=gateway.id, office_id=office.id, at=created,
                                   from_state="unknown", to_state="online"))  # fmt: skip
        pairs.append((office.id, gateway.id))
    db.session.commit()
    return pairs


def _sessions(pairs, first: datetime, seconds: float, n: int, rng) -> None:
    """n sessions of up to 2 hours started at random in [first, first + seconds), inserted in
    the order they started (as gateways report them); visitors come back (2,500 per office)."""
    from controller.extensions import db

    fmt = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores UTC timestamps in SQLite
    rows = []
    for _i in range(n):
        office_id, gateway_id = pairs[rng.randrange(len(pairs))]
        start = first + timedelta(seconds=rng.random() * seconds)
        end = start + timedelta(seconds=rng.randrange(60, 7200))
        visitor = office_id * 10_000 + rng.randrange(2_500)
        rows.append((uuid.uuid4().hex, office_id, gateway_id, f"{visitor:032x}",
                     "click", 0, start.strftime(fmt), end.strftime(fmt),
                     rng.randrange(10**8), rng.randrange(10**7)))  # fmt: skip
    rows.sort(key=lambda r: r[6])
    raw = db.session.connection().connection.driver_connection
    raw.executemany(
        "INSERT INTO portal_sessions (session_id, office_id, device_id, pseudonym, method,"
        " offline, started_at, ended_at, bytes_down, bytes_up) VALUES (?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.session.commit()


def run() -> list[Figure]:
    """Build the data set, then time the monthly report, the freeze and the year's export."""
    from controller.extensions import db
    from controller.reports import exports, rollup, service, snapshots
    from controller.reports.models import ReportRollupDay
    from controller.reports.periods import Period, local_midnight, month_period, next_month

    rng = random.Random(6)  # noqa: S311 - a reproducible data set, not secrets
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        instance = Path(tmp) / "instance"
        _controller.cli(instance, "db", "upgrade")
        with _agents.controller_app(instance):
            pairs = _world()
            for m in range(1, 13):
                month = date(2025, m, 1)
                start, end = local_midnight(month), local_midnight(next_month(month))
                n = MONTH_SESSIONS if month == MONTH else OTHER_MONTH_SESSIONS
                _sessions(pairs, start, (end - start).total_seconds(), n, rng)
            began = time.perf_counter()
            raw = service.build(month_period(MONTH), None, NOW)
            unrolled = time.perf_counter() - began
            assert raw.total["sessions"] == MONTH_SESSIONS, raw.total
            db.session.rollback()
            began = time.perf_counter()
            filled = rollup.run(NOW)
            backfill = time.perf_counter() - began
            db.session.delete(db.session.get(ReportRollupDay, BUSY_DAY))
            db.session.commit()
            began = time.perf_counter()
            night = rollup.run(NOW)
            nightly = time.perf_counter() - began
            assert night["rolled"] == 1 and filled["rolled"] == night["checked"], (filled, night)
            began = time.perf_counter()
            report = service.build(month_period(MONTH), None, NOW)
            monthly = time.perf_counter() - began
            assert all(
                abs((report.total[k] or 0) - (v or 0)) < 1e-3 for k, v in raw.total.items()
            ), (report.total, raw.total)  # the same figures, to rounding
            db.session.rollback()
            began = time.perf_counter()
            service.build(month_period(MONTH), None, TODAY)  # today from the details
            current = time.perf_counter() - began
            db.session.rollback()
            began = time.perf_counter()
            for m in range(1, 13):
                snapshots.freeze(date(2025, m, 1), None, NOW)
            db.session.commit()
            freeze = time.perf_counter() - began
            began = time.perf_counter()
            closed = service.build(month_period(MONTH), None, NOW)
            frozen_month = time.perf_counter() - began
            assert closed.frozen and closed.total["sessions"] == MONTH_SESSIONS
            began = time.perf_counter()
            year = service.build(Period(date(2025, 1, 1), date(2025, 12, 31)), None, NOW)
            data = exports.xlsx(year)
            export = time.perf_counter() - began
            assert year.frozen and len(year.offices) == OFFICES
    return [
        Figure("reports.month_1m_sessions_s", monthly, "s", "lower",
               target=f"< {REPORT_TARGET_S} s", target_met=monthly < REPORT_TARGET_S),
        Figure("reports.current_month_1m_sessions_s", current, "s", "lower",
               target=f"< {REPORT_TARGET_S} s", target_met=current < REPORT_TARGET_S),
        Figure("reports.month_1m_sessions_unrolled_s", unrolled, "s", "lower"),
        Figure("reports.rollup_year_s", backfill, "s", "lower"),
        Figure("reports.rollup_night_s", nightly, "s", "lower"),
        Figure("reports.frozen_month_1m_sessions_s", frozen_month, "s", "lower",
               target=f"< {REPORT_TARGET_S} s", target_met=frozen_month < REPORT_TARGET_S),
        Figure("reports.year_xlsx_20_offices_s", export, "s", "lower",
               target=f"< {EXPORT_TARGET_S} s", target_met=export < EXPORT_TARGET_S),
        Figure("reports.freeze_year_s", freeze, "s", "lower"),
        Figure("reports.year_xlsx_bytes", len(data), "bytes", "lower"),
    ]  # fmt: skip
