"""Hotspot figures of a stretch of time computed from the session details.

Sessions and their bytes count in the stretch they started in; session time is the part of
each session inside the stretch, so a session across midnight or a month's end is split. A
session ends at `ended_at`, else at its last update, and counts at most LOOKBACK after its
start (grants are hours; a session reported longer is cut there), which makes the figures of
days add up to those of their month. Peak concurrent users come from an event sweep (+1 at a
start, -1 at an end, a running sum) over a compact query; a window function over two million
events took ten times longer in SQLite.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate

from sqlalchemy import bindparam, text

from controller.extensions import db
from controller.types import UTCDateTime

# Sessions are looked for this long before a stretch, for the part of them inside it.
LOOKBACK = timedelta(days=7)
_TIMES = ("start", "end", "lookback")  # bound as the columns store them (SQLite: text)


@dataclass
class Raw:
    """Figures of a stretch per (office, device; 0: none): [sessions, bytes, seconds], and
    peaks per (office, device) and per office (over all of the office's sessions)."""

    sums: dict = field(default_factory=dict)
    device_peaks: dict = field(default_factory=dict)
    office_peaks: dict = field(default_factory=dict)


def epoch(column: str) -> str:
    """SQL for a timestamp column in seconds since 1970."""
    if db.session.get_bind().dialect.name == "postgresql":
        return f"CAST(extract(epoch from {column}) AS DOUBLE PRECISION)"
    return f"((julianday({column}) - 2440587.5) * 86400.0)"


def _span() -> tuple[str, str]:
    """SQL for a session's (start, end) in seconds, cut to [:s, :e] and to LOOKBACK."""
    big, small = ("greatest", "least") if db.session.get_bind().dialect.name == (
        "postgresql") else ("max", "min")  # fmt: skip
    start, end = epoch("started_at"), epoch("coalesce(ended_at, last_update_at, started_at)")
    cut = int(LOOKBACK.total_seconds())
    return f"{big}({start}, :s)", f"{small}({end}, {start} + {cut}, :e)"


def scope(office_ids) -> str:
    """SQL limiting portal_sessions to the offices (none: all). The unary plus keeps SQLite
    from reading the office_id index instead of the started_at one: every office's sessions
    of all time instead of the stretch's."""
    return "AND +office_id IN :offices" if office_ids is not None else ""


def run(sql: str, params: dict, office_ids=None, times=_TIMES):
    """Execute SQL with the named times bound as timestamps and :offices as a list."""
    return _stream(sql, params, office_ids, times).all()


def _stream(sql: str, params: dict, office_ids=None, times=_TIMES):
    stmt = text(sql).bindparams(
        *(bindparam(k, type_=UTCDateTime()) for k in times if re.search(rf":{k}\b", sql))
    )
    if office_ids is not None:
        stmt = stmt.bindparams(bindparam("offices", expanding=True))
        params = {**params, "offices": list(office_ids) or [-1]}
    return db.session.execute(stmt, params)


def peak(spans: list[tuple[int, int]]) -> int:
    """The most spans open at once; one ending when another starts does not overlap it."""
    events = [a * 2 + 1 for a, b in spans if b > a] + [b * 2 for a, b in spans if b > a]
    events.sort()  # at equal times ends (even) come before starts (odd)
    return max(accumulate((e & 1) * 2 - 1 for e in events), default=0)


def figures(start: datetime, end: datetime, cap: datetime, office_ids) -> Raw:
    """The figures of sessions in [start, end), session time counted up to `cap` (now).

    One pass over the rows: every one is needed for the peak anyway, and summing them here
    costs less than a second pass of the database over the same rows for the aggregates.
    """
    params = {"start": start, "end": end, "lookback": start - LOOKBACK,
              "s": start.timestamp(), "e": cap.timestamp()}  # fmt: skip
    a, b = _span()
    # Of the sessions started before the stretch only those ending in it count; the test on
    # the stored times is cheap, the arithmetic on the others is skipped.
    sql = f"""SELECT office_id, coalesce(device_id, 0), started_at >= :start,
                     bytes_down + bytes_up, {a}, {b}
              FROM portal_sessions
              WHERE started_at >= :lookback AND started_at < :end {scope(office_ids)}
                AND (started_at >= :start
                     OR coalesce(ended_at, last_update_at, started_at) > :start)"""  # noqa: S608 - constant fragments; values are bound
    out = Raw()
    spans: dict = defaultdict(list)  # (office, device) → (start, end) whole seconds
    result = _stream(sql, params, office_ids)
    # Plain tuples from the driver: a million result rows made by SQLAlchemy took seconds.
    while rows := result.cursor.fetchmany(50_000):
        for office_id, device_id, counted, size, first, last in rows:
            key = (office_id, device_id)
            total = out.sums.get(key) or out.sums.setdefault(key, [0, 0, 0.0])
            if counted:
                total[0] += 1
                total[1] += size or 0
            if last > first:
                total[2] += last - first
                spans[key].append((int(first), int(last)))
    result.close()
    by_office: dict = defaultdict(list)
    for key, found in spans.items():
        out.device_peaks[key] = peak(found)
        by_office[key[0]].append(key)
    for office_id, keys in by_office.items():
        out.office_peaks[office_id] = (out.device_peaks[keys[0]] if len(keys) == 1
                                       else peak([s for k in keys for s in spans[k]]))  # fmt: skip
    return out
