"""The usage indicators of a period, per office and per device, from SQL aggregates.

Hotspot sessions, their visitors and their data count in the period they started in;
session-hours count the part of each session inside the period, so a session across
midnight or a month's end is split between the two (controller/reports/sessions.py). They
come from the daily roll-up where it is current and from the session details elsewhere
(controller/reports/rollup.py). PC and infomat figures come from the agents' daily usage
counters.
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Date, bindparam, text

from controller.extensions import db
from controller.reports import availability, rollup
from controller.reports.periods import Period
from controller.reports.sessions import LOOKBACK, run

# name, unit, whether a total over offices is their sum
INDICATORS = (
    ("unique_users", "count", True),
    ("sessions", "count", True),
    ("session_hours", "hours", True),
    ("data_gb", "GB", True),
    ("peak_users", "count", False),
    ("pc_sessions", "count", True),
    ("pc_hours", "hours", True),
    ("infomat_sessions", "count", True),
    ("availability", "percent", False),
    ("active_access_points", "count", True),
)
HOTSPOT = ("unique_users", "sessions", "session_hours", "data_gb", "peak_users")
NAMES = tuple(name for name, _unit, _sums in INDICATORS)
_USAGE = {"pc_sessions": "pc_sessions", "pc_seconds": "pc_hours",
          "interaction_sessions": "infomat_sessions"}  # fmt: skip


def empty() -> dict:
    """Figures of a place without any use."""
    out = dict.fromkeys(NAMES, 0)
    out.update(session_hours=0.0, data_gb=0.0, pc_hours=0.0, availability=None)
    return out


def compute(period: Period, office_ids, now: datetime, hotspot: bool = True) -> tuple[dict, dict]:
    """(office id → figures, device id → figures) of the period, for the offices given
    (None: every office). Every office and device in scope has a row, used or not.
    Without `hotspot` the hotspot figures are left at zero (the costly part)."""
    devices = availability.scoped_devices(office_ids)
    offices: dict = defaultdict(empty)
    per_device: dict = {d.id: empty() for d in devices}
    for device in devices:
        offices[device.office_id]  # noqa: B018 - every office with devices gets a row
    end = min(period.end, max(now, period.start))
    if hotspot:
        _hotspot(period, office_ids, now, offices, per_device)
    _usage(period, office_ids, offices, per_device)
    by_device, by_office = availability.figures(devices, period.start, end)
    for device_id, value in by_device.items():
        per_device[device_id]["availability"] = value
    for office_id, value in by_office.items():
        offices[office_id]["availability"] = value
        offices[office_id]["active_access_points"] = int(bool(value))
    return dict(offices), per_device


def _hotspot(period: Period, office_ids, now: datetime, offices: dict, per_device: dict) -> None:
    found = rollup.figures(period, office_ids, now)
    for office_id, (sessions, size, seconds) in found["office"].items():
        _hotspot_row(offices[office_id], sessions, size, seconds)
    for device_id, (sessions, size, seconds) in found["device"].items():
        _hotspot_row(per_device.setdefault(device_id, empty()), sessions, size, seconds)
    for office_id, value in found["office_peak"].items():
        offices[office_id]["peak_users"] = value
    for device_id, value in found["device_peak"].items():
        if device_id in per_device:
            per_device[device_id]["peak_users"] = value
    for office_id, users in found["office_users"].items():
        offices[office_id]["unique_users"] = users
    for device_id, users in found["device_users"].items():
        per_device.setdefault(device_id, empty())["unique_users"] = users


def _hotspot_row(row: dict, sessions: int, size: int, seconds: float) -> None:
    row.update(sessions=sessions, data_gb=round(size / 1e9, 6),
               session_hours=round(seconds / 3600, 4))  # fmt: skip


def fingerprint(period: Period) -> list:
    """What tells whether the hotspot figures of a period can have changed since: the number
    and highest id of its sessions (index-only), and the state of the ones still open.

    Ended sessions never change (an end is final), so new rows and open ones are all that can.
    """
    params = {"lookback": period.start - LOOKBACK, "end": period.end}
    rows = run(
        """SELECT count(*), max(id) FROM portal_sessions
                   WHERE started_at >= :lookback AND started_at < :end""",
        params,
        None,
    )
    hint = "INDEXED BY ix_portal_sessions_ended_at" if db.session.get_bind().dialect.name == (
        "sqlite") else ""  # fmt: skip
    open_rows = run(f"""SELECT count(*), sum(bytes_down + bytes_up), max(last_update_at)
                         FROM portal_sessions {hint} WHERE ended_at IS NULL
                         AND started_at >= :lookback AND started_at < :end""",  # noqa: S608
                     params, None)  # fmt: skip
    count, top = rows[0]
    live, size, update = open_rows[0]
    return [int(count or 0), int(top or 0), int(live or 0), int(size or 0), str(update or "")]


def _usage(period: Period, office_ids, offices: dict, per_device: dict) -> None:
    scope = "AND office_id IN :offices" if office_ids is not None else ""
    sql = f"""SELECT office_id, device_id, metric, sum(value) FROM usage_counters
              WHERE day >= :first AND day <= :last AND metric IN :metrics {scope}
              GROUP BY office_id, device_id, metric"""  # noqa: S608 - constant fragments; values are bound
    stmt = text(sql).bindparams(
        bindparam("metrics", expanding=True),
        bindparam("first", type_=Date()),
        bindparam("last", type_=Date()),
    )
    params = {"first": period.first, "last": period.last, "metrics": list(_USAGE)}
    if office_ids is not None:
        stmt = stmt.bindparams(bindparam("offices", expanding=True))
        params["offices"] = list(office_ids) or [-1]
    for office_id, device_id, metric, value in db.session.execute(stmt, params):
        name = _USAGE[metric]
        amount = int(value or 0) / 3600 if name == "pc_hours" else int(value or 0)
        for target in (offices[office_id], per_device.setdefault(device_id, empty())):
            target[name] = round(target[name] + amount, 4) if name == "pc_hours" else (
                target[name] + amount)  # fmt: skip
