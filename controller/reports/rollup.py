"""The daily roll-up of hotspot sessions: a month's report reads about thirty rows per office
and gateway instead of every session.

`report_days` holds each closed local day's figures per office (device 0: all its sessions)
and gateway: the sessions started that day and their bytes, the session time inside the day
and the day's peak. A period's figures are sums over its days and its peak the highest day's
(every instant belongs to one day; an office's peak is over all its sessions, as live).
`report_month_visitors` holds the distinct pseudonyms per month, office and gateway: unique
users of whole months are counted from it, and of the part of a month in a range that is not
whole months from the details.

Correctness does not depend on the job. A day counts as rolled up only while the fingerprint
of the sessions reaching into it (those started that day or up to LOOKBACK before: per day
their number and highest id, read from the `started_at` index alone, and the state of the
ones still open) is what it was when the day was rolled up. Every other day — today, a day
not rolled up yet, a day a late record or an ending session changed — is computed from the
details. The fingerprint is read before the figures, so a change in between only makes the
day look changed. After the retention purge a day's roll-up is all there is and is used as it
is. The report_rollup schedule (01:15 every night) rolls up the closed days that need it.
"""

import hashlib
from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import Date, bindparam, delete, func, select, text, update

from controller.database import write_transaction
from controller.extensions import db
from controller.portal.models import PortalSession
from controller.reports import sessions
from controller.reports.models import ReportDay, ReportRollupDay
from controller.reports.periods import Period, local_midnight, month_period, today
from controller.types import UTCDateTime

DAY = timedelta(days=1)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def window_start(day: date) -> date:
    """The first day whose sessions can reach into `day`."""
    return today(local_midnight(day) - sessions.LOOKBACK)


def fingerprints(first: date, last: date) -> dict[date, list]:
    """Per local day: [sessions started, their highest id, digest of the open ones' state]."""
    days = _days(first, last)
    out = {day: [0, 0, ""] for day in days}
    # One indexed range per day: a join with a list of days sorted a million index entries
    # for its GROUP BY and took three times longer in SQLite.
    counted = text("""SELECT count(*), max(id) FROM portal_sessions
                      WHERE started_at >= :start AND started_at < :end""").bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime()))  # fmt: skip
    for day in days:
        bounds = {"start": local_midnight(day), "end": local_midnight(day + DAY)}
        count, top = db.session.execute(counted, bounds).one()
        out[day][:2] = [int(count), int(top or 0)]
    hint = "INDEXED BY ix_portal_sessions_ended_at" if db.session.get_bind().dialect.name == (
        "sqlite") else ""  # fmt: skip
    stmt = text(f"""SELECT id, started_at, bytes_down + bytes_up AS size, last_update_at
                    FROM portal_sessions {hint} WHERE ended_at IS NULL
                    AND started_at >= :start AND started_at < :end ORDER BY id""")  # noqa: S608
    stmt = stmt.bindparams(bindparam("start", type_=UTCDateTime()),
                           bindparam("end", type_=UTCDateTime()))  # fmt: skip
    stmt = stmt.columns(started_at=UTCDateTime(), last_update_at=UTCDateTime())
    starts = [local_midnight(day) for day in days]
    still_open: dict = defaultdict(list)
    bounds = {"start": starts[0], "end": local_midnight(last + DAY)}
    for row_id, started, size, update_at in db.session.execute(stmt, bounds):
        day = days[bisect_right(starts, started) - 1]
        still_open[day].append(f"{row_id}:{int(size or 0)}:{update_at}")
    for day, found in still_open.items():
        out[day][2] = hashlib.sha256(" ".join(found).encode()).hexdigest()[:16]
    return out


# A purged day's place in a later day's source: its details are gone, so its fingerprint no
# longer says anything, and the later day's roll-up (which still holds the sessions reaching
# into it from the purged day) must not be taken for changed and computed again without them.
PURGED = "purged"


def _purged_until() -> date | None:
    return db.session.scalar(
        select(func.max(ReportRollupDay.day)).where(ReportRollupDay.details_purged)
    )


def _source(day: date, prints: dict, purged_until: date | None = None) -> list:
    return [PURGED if purged_until is not None and d <= purged_until else prints[d]
            for d in _days(window_start(day), day)]  # fmt: skip


def _states(first: date, last: date) -> dict[date, ReportRollupDay]:
    found = ReportRollupDay.day >= first, ReportRollupDay.day <= last
    rows = db.session.scalars(select(ReportRollupDay).where(*found))
    return {row.day: row for row in rows}


def current_days(first: date, last: date, now: datetime) -> set[date]:
    """The days of [first, last] whose roll-up can be used: closed, rolled up, unchanged."""
    last = min(last, today(now) - DAY)
    if last < first:
        return set()
    states = _states(first, last)
    check = sorted(d for d, s in states.items() if not s.details_purged)
    usable = {d for d, s in states.items() if s.details_purged}
    if check:
        prints, until = fingerprints(window_start(check[0]), check[-1]), _purged_until()
        usable |= {d for d in check if states[d].source == _source(d, prints, until)}
    return usable


def roll_up(day: date, now: datetime) -> None:
    """Compute one closed day from the details and store it, in the current transaction."""
    prints = fingerprints(window_start(day), day)  # before the figures
    _store(day, _source(day, prints, _purged_until()), _compute(day, prints), now,
           bool(prints[day][0]))  # fmt: skip


def _compute(day: date, prints: dict) -> sessions.Raw:
    if not any(p[0] for p in _source(day, prints)):
        return sessions.Raw()  # no session reaches into the day
    end = local_midnight(day + DAY)
    return sessions.figures(local_midnight(day), end, end, None)


def _store(day: date, source: list, raw: sessions.Raw, now: datetime, visitors: bool) -> None:
    db.session.execute(delete(ReportDay).where(ReportDay.day == day))
    offices: dict = defaultdict(lambda: [0, 0, 0.0])
    rows = []
    for (office_id, device_id), (count, size, seconds) in raw.sums.items():
        total = offices[office_id]
        total[0], total[1], total[2] = total[0] + count, total[1] + size, total[2] + seconds
        if device_id:
            rows.append(dict(day=day, office_id=office_id, device_id=device_id, sessions=count,
                             bytes=size, seconds=seconds,
                             peak=raw.device_peaks.get((office_id, device_id), 0)))  # fmt: skip
    for office_id, (count, size, seconds) in offices.items():
        rows.append(dict(day=day, office_id=office_id, device_id=0, sessions=count, bytes=size,
                         seconds=seconds, peak=raw.office_peaks.get(office_id, 0)))  # fmt: skip
    if rows:
        db.session.execute(ReportDay.__table__.insert(), rows)
    if visitors:
        db.session.execute(_VISITORS, {"month": day.replace(day=1), "start": local_midnight(day),
                                       "end": local_midnight(day + DAY)})  # fmt: skip
    state = db.session.get(ReportRollupDay, day) or ReportRollupDay(day=day)
    state.source, state.rolled_at, state.details_purged = source, now, False
    db.session.add(state)
    db.session.flush()


_VISITORS = text("""
    INSERT INTO report_month_visitors (month, office_id, device_id, pseudonym)
    SELECT DISTINCT :month, office_id, coalesce(device_id, 0), pseudonym
    FROM portal_sessions WHERE started_at >= :start AND started_at < :end
    ON CONFLICT DO NOTHING""").bindparams(
    bindparam("month", type_=Date()), bindparam("start", type_=UTCDateTime()),
    bindparam("end", type_=UTCDateTime()))  # fmt: skip


def _todo(last: date) -> tuple[list[date], list[date], dict]:
    """(the days checked, those to roll up, the fingerprints) from the oldest session's
    month to `last`."""
    oldest = db.session.scalar(select(func.min(PortalSession.started_at)))
    if oldest is None or today(oldest) > last:
        return [], [], {}
    days = _days(today(oldest).replace(day=1), last)  # whole months, from the oldest session
    states = _states(days[0], last)
    days = [d for d in days if not (d in states and states[d].details_purged)]
    if not days:
        return [], [], {}
    prints, until = fingerprints(window_start(days[0]), last), _purged_until()
    todo = [d for d in days if d not in states or states[d].source != _source(d, prints, until)]
    return days, todo, prints


def run(now: datetime) -> dict:
    """The job: roll up every closed day not rolled up or changed since. A month of days at
    a time is read without SQLite's write lock, then written briefly with it; the
    fingerprints are read before any figure."""
    db.session.rollback()
    checked, todo, prints = _todo(today(now) - DAY)
    for at in range(0, len(todo), 31):
        db.session.rollback()
        computed = [(day, _compute(day, prints)) for day in todo[at : at + 31]]
        write_transaction()
        until = _purged_until()
        for day, raw in computed:
            _store(day, _source(day, prints, until), raw, now, bool(prints[day][0]))
        db.session.commit()
    db.session.rollback()
    return {"checked": len(checked), "rolled": len(todo)}


def before_purge(before: datetime, now: datetime) -> int:
    """Roll up the days before `before` that need it and mark them purged (in the current
    transaction): their details are about to go, their roll-up stays as it is."""
    last = today(before) - DAY
    _checked, todo, prints = _todo(last)
    until = _purged_until()
    for day in todo:
        _store(day, _source(day, prints, until), _compute(day, prints), now,
               bool(prints[day][0]))  # fmt: skip
    db.session.execute(update(ReportRollupDay).where(ReportRollupDay.day <= last)
                       .values(details_purged=True))  # fmt: skip
    # The days after whose windows reach back into the purged ones keep their figures.
    for state in _states(last + DAY, last + DAY + sessions.LOOKBACK).values():
        window = _days(window_start(state.day), state.day)
        state.source = [PURGED if d <= last else entry
                        for d, entry in zip(window, state.source, strict=True)]  # fmt: skip
    db.session.flush()
    return len(todo)


def figures(period: Period, office_ids, now: datetime) -> dict:
    """The hotspot figures of the period from the roll-up where it is current and the details
    elsewhere: per office (all its sessions) and per gateway the sums [sessions, bytes,
    seconds] and the peak, and unique users per office and per gateway."""
    usable = current_days(period.first, period.last, now)
    out = {"office": defaultdict(lambda: [0, 0, 0.0]), "device": defaultdict(lambda: [0, 0, 0.0]),
           "office_peak": defaultdict(int), "device_peak": defaultdict(int)}  # fmt: skip
    if usable:
        _from_rollup(period, usable, office_ids, out)
    for first, last in _stretches(_days(period.first, period.last), usable):
        start, end = local_midnight(first), local_midnight(last + DAY)
        raw = sessions.figures(start, end, min(end, max(now, start)), office_ids)
        for (office_id, device_id), values in raw.sums.items():
            _add(out["office"][office_id], values)
            if device_id:
                _add(out["device"][device_id], values)
        for (_office_id, device_id), value in raw.device_peaks.items():
            out["device_peak"][device_id] = max(out["device_peak"][device_id], value)
        for office_id, value in raw.office_peaks.items():
            out["office_peak"][office_id] = max(out["office_peak"][office_id], value)
    out["office_users"], out["device_users"] = _visitors(period, usable, office_ids)
    return out


def _add(target: list, values) -> None:
    target[0] += values[0]
    target[1] += values[1]
    target[2] += values[2]


def _stretches(days: list[date], skip: set[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days not in skip, as (first, last)."""
    out: list = []
    for day in days:
        if day in skip:
            continue
        if out and out[-1][1] == day - DAY:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _from_rollup(period: Period, usable: set, office_ids, out: dict) -> None:
    skip = [d for d in _days(period.first, period.last) if d not in usable]
    stmt = (
        select(ReportDay.office_id, ReportDay.device_id, func.sum(ReportDay.sessions),
               func.sum(ReportDay.bytes), func.sum(ReportDay.seconds), func.max(ReportDay.peak))
        .where(ReportDay.day >= period.first, ReportDay.day <= period.last)
        .group_by(ReportDay.office_id, ReportDay.device_id)
    )  # fmt: skip
    if skip:
        stmt = stmt.where(ReportDay.day.not_in(skip))
    if office_ids is not None:
        stmt = stmt.where(ReportDay.office_id.in_(list(office_ids)))
    for office_id, device_id, count, size, seconds, top in db.session.execute(stmt):
        values = (int(count or 0), int(size or 0), float(seconds or 0))
        if device_id:
            _add(out["device"][device_id], values)
            out["device_peak"][device_id] = max(out["device_peak"][device_id], int(top or 0))
        else:
            _add(out["office"][office_id], values)
            out["office_peak"][office_id] = max(out["office_peak"][office_id], int(top or 0))


def _visitors(period: Period, usable: set, office_ids) -> tuple[dict, dict]:
    """Distinct pseudonyms per office and per (device) over the period: whole months from
    the month lists, with the days not rolled up, and the parts of months from the details."""
    months, ranges = [], []
    for month in period.months():
        whole = month_period(month)
        days = _days(max(whole.first, period.first), min(whole.last, period.last))
        if whole.first >= period.first and whole.last <= period.last and usable & set(days):
            months.append(month)
            ranges += _stretches(days, usable)
        else:
            ranges += _stretches(days, set())
    parts, params, scope = [], {}, sessions.scope(office_ids)
    if office_ids is not None:
        params["offices"] = list(office_ids) or [-1]
    if months:
        params["months"] = months
        parts.append(f"""SELECT office_id, device_id, pseudonym FROM report_month_visitors
                         WHERE month IN :months {scope}""")  # noqa: S608 - constant fragments
    times = []
    if ranges:
        conds = []
        for i, (first, last) in enumerate(_merge(ranges)):
            params[f"va{i}"], params[f"vb{i}"] = local_midnight(first), local_midnight(last + DAY)
            conds.append(f"(started_at >= :va{i} AND started_at < :vb{i})")
            times += [f"va{i}", f"vb{i}"]
        parts.append(f"""SELECT office_id, coalesce(device_id, 0) AS device_id, pseudonym
                         FROM portal_sessions WHERE ({" OR ".join(conds)}) {scope}""")  # noqa: S608
    union = " UNION ALL ".join(parts)
    stmt = text(f"""SELECT office_id, device_id, count(DISTINCT pseudonym) FROM ({union}) v
                    GROUP BY office_id, device_id""")  # noqa: S608 - constant fragments
    stmt = _bind(stmt, params, times)
    per_device: dict = {}
    office_devices: dict = defaultdict(dict)
    for office_id, device_id, users in db.session.execute(stmt, params):
        office_devices[office_id][device_id] = int(users)
        if device_id:
            per_device[device_id] = int(users)
    # An office whose visitors all came through one gateway has that gateway's count; only
    # offices with several need another pass to count a visitor of two gateways once.
    per_office = {o: next(iter(d.values())) for o, d in office_devices.items() if len(d) == 1}
    shared = sorted(o for o, d in office_devices.items() if len(d) > 1)
    if shared:
        params["shared"] = shared
        stmt = text(f"""SELECT office_id, count(DISTINCT pseudonym) FROM ({union}) v
                        WHERE office_id IN :shared GROUP BY office_id""")  # noqa: S608
        stmt = _bind(stmt, params, times).bindparams(bindparam("shared", expanding=True))
        per_office.update({o: int(n) for o, n in db.session.execute(stmt, params)})
    return per_office, per_device


def _bind(stmt, params: dict, times: list):
    stmt = stmt.bindparams(*(bindparam(k, type_=UTCDateTime()) for k in times))
    if "months" in params:
        stmt = stmt.bindparams(bindparam("months", expanding=True, type_=Date()))
    if "offices" in params:
        stmt = stmt.bindparams(bindparam("offices", expanding=True))
    return stmt


def _merge(ranges: list) -> list:
    out: list = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + DAY:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out
