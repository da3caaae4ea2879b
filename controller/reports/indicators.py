"""The usage indicators of a period, per office and per device, from SQL aggregates.

Hotspot sessions, their visitors and their data count in the period they started in;
session-hours count the part of each session inside the period, so a session across
midnight or a month's end is split between the two. Peak concurrent users come from an event
sweep (+1 at a start, -1 at an end, a running sum) over a compact query. PC and infomat
figures come from the agents' daily usage counters.
"""

import re
from collections import defaultdict
from datetime import datetime, timedelta
from itertools import accumulate

from sqlalchemy import Date, bindparam, text

from controller.extensions import db
from controller.reports import availability
from controller.reports.periods import Period
from controller.types import UTCDateTime

# Sessions are looked for this long before a period, for the part of them inside it; grants
# are hours long, so a session reported longer than this is cut at the period's start.
LOOKBACK = timedelta(days=7)
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
_TIMES = ("start", "end", "lookback")  # bound as the columns store them (SQLite: text)
NAMES = tuple(name for name, _unit, _sums in INDICATORS)
_USAGE = {"pc_sessions": "pc_sessions", "pc_seconds": "pc_hours",
          "interaction_sessions": "infomat_sessions"}  # fmt: skip


def empty() -> dict:
    """Figures of a place without any use."""
    out = dict.fromkeys(NAMES, 0)
    out.update(session_hours=0.0, data_gb=0.0, pc_hours=0.0, availability=None)
    return out


def _epoch(column: str) -> str:
    if db.session.get_bind().dialect.name == "postgresql":
        return f"extract(epoch from {column})"
    return f"((julianday({column}) - 2440587.5) * 86400.0)"


def _pair() -> tuple[str, str]:
    """The two-argument max and min of the dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        return "greatest", "least"
    return "max", "min"


def _sessions_sql(office_ids) -> str:
    big, small = _pair()
    start, end = _epoch("started_at"), _epoch("coalesce(ended_at, last_update_at, started_at)")
    scope = "AND office_id IN :offices" if office_ids is not None else ""
    return f"""
        WITH s AS (
          SELECT office_id, coalesce(device_id, 0) AS device_id, pseudonym,
                 started_at >= :start AS counted, bytes_down + bytes_up AS bytes,
                 {big}({start}, :s) AS a, {small}({end}, :e) AS b
          FROM portal_sessions
          WHERE started_at >= :lookback AND started_at < :end {scope})
        SELECT office_id, device_id,
               sum(CASE WHEN counted THEN 1 ELSE 0 END),
               sum(CASE WHEN counted THEN bytes ELSE 0 END),
               sum(CASE WHEN b > a THEN b - a ELSE 0 END),
               count(DISTINCT CASE WHEN counted THEN pseudonym END)
        FROM s GROUP BY office_id, device_id"""  # noqa: S608 - constant fragments; values are bound


def _distinct_sql(office_ids) -> str:
    scope = "AND office_id IN :offices" if office_ids is not None else ""
    return f"""SELECT office_id, count(DISTINCT pseudonym) FROM portal_sessions
               WHERE started_at >= :start AND started_at < :end {scope} GROUP BY office_id"""  # noqa: S608 - constant fragments; values are bound


def _spans_sql(office_ids) -> str:
    big, small = _pair()
    start, end = _epoch("started_at"), _epoch("coalesce(ended_at, last_update_at, started_at)")
    scope = "AND office_id IN :offices" if office_ids is not None else ""
    return f"""
        SELECT office_id, coalesce(device_id, 0), CAST({big}({start}, :s) AS INTEGER),
               CAST({small}({end}, :e) AS INTEGER)
        FROM portal_sessions
        WHERE started_at >= :lookback AND started_at < :end {scope}"""  # noqa: S608 - constant fragments; values are bound


def peak(spans: list[tuple[int, int]]) -> int:
    """The most spans open at once; one ending when another starts does not overlap it."""
    events = [a * 2 + 1 for a, b in spans if b > a] + [b * 2 for a, b in spans if b > a]
    events.sort()  # at equal times ends (even) come before starts (odd)
    return max(accumulate((e & 1) * 2 - 1 for e in events), default=0)


def _run(sql: str, params: dict, office_ids):
    stmt = text(sql).bindparams(
        *(bindparam(k, type_=UTCDateTime()) for k in _TIMES if re.search(rf":{k}\b", sql))
    )
    if office_ids is not None:
        stmt = stmt.bindparams(bindparam("offices", expanding=True))
        params = {**params, "offices": list(office_ids) or [-1]}
    return db.session.execute(stmt, params).all()


def compute(period: Period, office_ids, now: datetime, hotspot: bool = True) -> tuple[dict, dict]:
    """(office id → figures, device id → figures) of the period, for the offices given
    (None: every office). Every office and device in scope has a row, used or not.
    Without `hotspot` the hotspot figures are left at zero (the costly part)."""
    devices = availability.scoped_devices(office_ids)
    offices: dict = defaultdict(empty)
    per_device: dict = {d.id: empty() for d in devices}
    for device in devices:
        offices[device.office_id]  # noqa: B018 - every office with devices gets a row
    start, end = period.start, min(period.end, max(now, period.start))
    params = {"start": period.start, "end": period.end, "lookback": period.start - LOOKBACK,
              "s": start.timestamp(), "e": end.timestamp()}  # fmt: skip
    if hotspot:
        _hotspot(params, office_ids, offices, per_device)
    _usage(period, office_ids, offices, per_device)
    by_device, by_office = availability.figures(devices, period.start, end)
    for device_id, value in by_device.items():
        per_device[device_id]["availability"] = value
    for office_id, value in by_office.items():
        offices[office_id]["availability"] = value
        offices[office_id]["active_access_points"] = int(bool(value))
    return dict(offices), per_device


def _hotspot(params: dict, office_ids, offices: dict, per_device: dict) -> None:
    visitors: dict = defaultdict(dict)  # office → device (0: none) → distinct visitors
    for office_id, device_id, sessions, size, seconds, users in _run(
        _sessions_sql(office_ids), params, office_ids
    ):
        row = per_device.setdefault(device_id, empty()) if device_id else None
        for target in (offices[office_id], row):
            if target is None:
                continue
            target["sessions"] += int(sessions or 0)
            target["data_gb"] = round(target["data_gb"] + int(size or 0) / 1e9, 6)
            target["session_hours"] = round(target["session_hours"] + float(seconds or 0) / 3600,
                                            4)  # fmt: skip
        if row is not None:
            row["unique_users"] = int(users or 0)
        visitors[office_id][device_id] = int(users or 0)
    # An office with sessions on one gateway has that gateway's visitors; only offices with
    # several need another pass to count a visitor of two gateways once.
    shared = sorted(o for o, by_device in visitors.items() if len(by_device) > 1)
    for office_id, by_device in visitors.items():
        if len(by_device) == 1:
            offices[office_id]["unique_users"] = next(iter(by_device.values()))
    if shared:
        for office_id, users in _run(_distinct_sql(shared), params, shared):
            offices[office_id]["unique_users"] = int(users)
    # The event sweep runs over a compact list of (start, end) seconds: a window function
    # over two million events took ten times longer in SQLite.
    spans: dict = defaultdict(list)  # (office, device) → spans
    for office_id, device_id, a, b in _run(_spans_sql(office_ids), params, office_ids):
        spans[(office_id, device_id)].append((a, b))
    peaks = {key: peak(found) for key, found in spans.items()}
    keys: dict = defaultdict(list)
    for (office_id, device_id), value in peaks.items():
        keys[office_id].append((office_id, device_id))
        if device_id in per_device:
            per_device[device_id]["peak_users"] = value
    for office_id, found in keys.items():
        offices[office_id]["peak_users"] = (
            peaks[found[0]] if len(found) == 1 else peak([s for k in found for s in spans[k]])
        )


def fingerprint(period: Period) -> list:
    """What tells whether the hotspot figures of a period can have changed since: the number
    and highest id of its sessions (index-only), and the state of the ones still open.

    Ended sessions never change (an end is final), so new rows and open ones are all that can.
    """
    params = {"lookback": period.start - LOOKBACK, "end": period.end}
    rows = _run(
        """SELECT count(*), max(id) FROM portal_sessions
                   WHERE started_at >= :lookback AND started_at < :end""",
        params,
        None,
    )
    hint = "INDEXED BY ix_portal_sessions_ended_at" if db.session.get_bind().dialect.name == (
        "sqlite") else ""  # fmt: skip
    open_rows = _run(f"""SELECT count(*), sum(bytes_down + bytes_up), max(last_update_at)
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
