"""The report: figures per office, per device and per month of a period, for given offices.

A month that is frozen for every office asked for is read from its snapshot, and what a
recomputation finds besides is shown as its correction (late data). A period made of frozen
months combines their figures (see `combine`); any other period is computed from the details.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from controller.devices.models import Device
from controller.extensions import db
from controller.offices.models import Office
from controller.reports import indicators, snapshots
from controller.reports.indicators import INDICATORS, NAMES
from controller.reports.models import OFFICE_ROW
from controller.reports.periods import Period, month_period


@dataclass
class Row:
    """One office's or device's figures, and the correction found after its month closed."""

    office_id: int
    office: str
    figures: dict
    device_id: int | None = None
    device: str = ""
    kind: str = ""
    correction: dict | None = None


@dataclass
class MonthRow:
    """The offices' figures together in one month (or the part of it in the period)."""

    month: date
    figures: dict
    frozen: bool
    correction: dict | None = None
    rows: list[Row] = field(default_factory=list)  # its offices and devices


@dataclass
class Report:
    """Everything the page, the API and the exports show."""

    period: Period
    offices: list[Row]
    devices: list[Row]
    total: dict
    months: list[MonthRow] = field(default_factory=list)
    frozen: bool = False  # read from snapshots
    generated_at: datetime | None = None


def combine(rows: list[dict], across: str, weights: list[float] | None = None) -> dict:
    """Figures of several offices (across="offices") or months (across="months") together.

    Counts, hours and data add up; unique users add up too (a visitor of two offices or
    months counts in each); peak users: the highest month, none over offices; availability:
    the mean (over months weighted by their length); active access points: over months, the
    most of any month.
    """
    out = indicators.empty()
    weights = weights or [1.0] * len(rows)
    for name, _unit, sums in INDICATORS:
        values = [(r.get(name), w) for r, w in zip(rows, weights, strict=True)
                  if r.get(name) is not None]  # fmt: skip
        if sums and not (name == "active_access_points" and across == "months"):
            out[name] = _round(sum(v for v, _w in values))
        elif name == "availability":
            total = sum(w for _v, w in values)
            out[name] = round(sum(v * w for v, w in values) / total, 2) if total else None
        elif across == "months":
            out[name] = max((v for v, _w in values), default=0)
        else:
            out[name] = None
    return out


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


def difference(frozen: dict, live: dict, skip=()) -> dict | None:
    """What a recomputation adds to frozen figures (None when nothing changed)."""
    out = {}
    for name in NAMES:
        if name in skip:
            continue
        a, b = frozen.get(name), live.get(name)
        if a != b and a is not None and b is not None and abs(b - a) > 1e-6:
            out[name] = _round(b - a)
    return out or None


def build(period: Period, office_ids: list[int] | None, now: datetime) -> Report:
    """The report of the period for the offices (None: every office)."""
    names = _office_names(office_ids)
    ids = sorted(names if office_ids is None else office_ids, key=lambda i: (names.get(i, ""), i))
    months = period.months()
    whole = [m for m in months if month_period(m).first >= period.first
             and month_period(m).last <= period.last]  # fmt: skip
    frozen = snapshots.frozen_months(whole, ids) if ids else set()
    if ids and len(whole) == len(months) and frozen == set(months):
        month_rows = [_month(period, m, ids, names, True, now) for m in months]
        offices, devices = _combine_months(month_rows)
        report = Report(period, offices, devices, {}, month_rows, True, now)
    else:
        live_offices, live_devices = indicators.compute(period, ids, now) if ids else ({}, {})
        offices = [Row(i, names[i], live_offices.get(i, indicators.empty())) for i in ids]
        devices = _device_rows(live_devices, ids, names)
        if len(months) == 1:  # the month is the period: computed once
            month_rows = [MonthRow(months[0], combine([r.figures for r in offices], "offices"),
                                   False, None, offices + devices)]  # fmt: skip
        else:
            month_rows = [_month(period, m, ids, names, m in frozen, now) for m in months]
        report = Report(period, offices, devices, {}, month_rows, False, now)
    report.total = combine([r.figures for r in report.offices], "offices")
    return report


def _month(period, month, ids, names, frozen, now) -> MonthRow:
    part = Period(max(month, period.first), min(month_period(month).last, period.last))
    if not frozen:
        offices, _devices = indicators.compute(part, ids, now) if ids else ({}, {})
        rows = [Row(i, names[i], offices.get(i, indicators.empty())) for i in ids]
        return MonthRow(month, combine([r.figures for r in rows], "offices"), False, None, rows)
    stored = snapshots.frozen(month, ids)
    live_offices, live_devices, same = ({}, {}, indicators.HOTSPOT)
    if not all(s.details_purged for s in stored):
        # Hotspot figures are recounted only when the month's sessions changed since.
        current = indicators.fingerprint(part)
        changed = any(s.source != current for s in stored)
        same = () if changed else indicators.HOTSPOT
        live_offices, live_devices = indicators.compute(part, ids, now, hotspot=changed)
    rows = []
    for snap in stored:
        live = (live_offices if snap.device_id == OFFICE_ROW else live_devices).get(
            snap.office_id if snap.device_id == OFFICE_ROW else snap.device_id)  # fmt: skip
        correction = None if snap.details_purged or live is None else difference(
            snap.figures, live, same)  # fmt: skip
        rows.append(Row(snap.office_id, names.get(snap.office_id, str(snap.office_id)),
                        dict(snap.figures), snap.device_id or None, snap.device_name,
                        snap.device_kind, correction))  # fmt: skip
    offices = [r for r in rows if r.device_id is None]
    total = combine([r.figures for r in offices], "offices")
    fixes = [r.correction for r in offices if r.correction]
    return MonthRow(month, total, True, _sum_corrections(fixes), rows)


def _sum_corrections(fixes: list[dict]) -> dict | None:
    if not fixes:
        return None
    out: dict = {}
    for fix in fixes:
        for name, value in fix.items():
            out[name] = _round(out.get(name, 0) + value)
    return out


def _combine_months(month_rows: list[MonthRow]) -> tuple[list[Row], list[Row]]:
    by_key: dict = {}
    for month in month_rows:
        seconds = month_period(month.month).seconds
        for row in month.rows:
            first, figures, weights, fixes = by_key.setdefault(
                (row.office_id, row.device_id), (row, [], [], []))  # fmt: skip
            figures.append(row.figures)
            weights.append(seconds)
            if row.correction:
                fixes.append(row.correction)
    rows = []
    for first, figures, weights, fixes in by_key.values():
        merged = combine(figures, "months", weights) if len(figures) > 1 else figures[0]
        rows.append(Row(first.office_id, first.office, merged, first.device_id, first.device,
                        first.kind, _sum_corrections(fixes)))  # fmt: skip
    offices = sorted((r for r in rows if r.device_id is None), key=lambda r: r.office)
    devices = sorted((r for r in rows if r.device_id is not None),
                     key=lambda r: (r.office, r.device))  # fmt: skip
    return offices, devices


def _office_names(office_ids) -> dict[int, str]:
    stmt = select(Office.id, Office.name).order_by(Office.name)
    if office_ids is not None:
        stmt = stmt.where(Office.id.in_(office_ids))
    return dict(db.session.execute(stmt).all())


def _device_rows(figures: dict, ids, names) -> list[Row]:
    if not ids:
        return []
    rows = db.session.execute(select(Device.id, Device.office_id, Device.name, Device.kind)
                              .where(Device.office_id.in_(ids)))  # fmt: skip
    out = [Row(o, names[o], figures.get(i, indicators.empty()), i, n, str(k))
           for i, o, n, k in rows]  # fmt: skip
    return sorted(out, key=lambda r: (r.office, r.device))
