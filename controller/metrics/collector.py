"""Fleet and portal gauges read from the database at scrape time.

A county may hold 10,000 devices, so the database does the counting: devices by office, kind
and state, and the oldest heartbeat per office and kind, are aggregates. Only devices that need
attention get series of their own — those offline, and file systems filling up (at or above
METRICS_DISK_FLOOR) — found by indexed queries and, for disks, by the database's own JSON
functions, so a scrape never decodes every heartbeat in Python. Nothing is per visitor:
sessions and vouchers are counted per office.
"""

import time
from datetime import datetime

from sqlalchemy import bindparam, func, select, text

from controller.devices.models import Device, DeviceState, Management
from controller.metrics.exposition import Gauge, escape, labels
from controller.offices.models import Office
from controller.portal.models import PortalPolicy, PortalSession, Voucher, VoucherBatch
from controller.portal.policy import seconds_to_closing
from controller.types import UTCDateTime, utcnow

# A device in these states is not expected to answer, so it is never counted as down.
_NOT_EXPECTED = (DeviceState.RETIRED.value, DeviceState.MAINTENANCE.value)
_NOT_EXPECTED_SQL = ", ".join(f"'{state}'" for state in _NOT_EXPECTED)  # fixed words, no input

# used/total of every well-formed disk entry of the latest heartbeat at or above :floor.
# SQLite tests the ratio first (it drops nearly every entry; a division by zero is NULL there),
# PostgreSQL checks the types in a CASE first (its casts fail on a string).
_DISKS = {
    "sqlite": """
        SELECT d.id, d.name, d.office_id, d.kind,
               substr(json_extract(j.value, '$.mount'), 1, 200) AS mount,
               CAST(json_extract(j.value, '$.used_bytes') AS REAL)
                 / json_extract(j.value, '$.total_bytes') AS ratio
        FROM devices d, json_each(d.health, '$.disks') j
        WHERE d.health IS NOT NULL AND d.management != 'none'
          AND d.state NOT IN ({not_expected})
          AND CAST(json_extract(j.value, '$.used_bytes') AS REAL)
                / json_extract(j.value, '$.total_bytes') >= :floor
          AND json_type(j.value, '$.mount') = 'text' AND json_extract(j.value, '$.mount') != ''
          AND json_type(j.value, '$.used_bytes') IN ('integer', 'real')
          AND json_type(j.value, '$.total_bytes') IN ('integer', 'real')
          AND json_extract(j.value, '$.total_bytes') > 0
          AND json_extract(j.value, '$.used_bytes') >= 0
        ORDER BY d.id, mount""",
    "postgresql": """
        SELECT id, name, office_id, kind, mount, ratio FROM (
          SELECT d.id, d.name, d.office_id, d.kind,
                 substr(j ->> 'mount', 1, 200) AS mount,
                 CASE WHEN json_typeof(j) = 'object'
                       AND json_typeof(j -> 'mount') = 'string' AND j ->> 'mount' != ''
                       AND json_typeof(j -> 'used_bytes') = 'number'
                       AND json_typeof(j -> 'total_bytes') = 'number'
                      THEN (j ->> 'used_bytes')::float8
                           / NULLIF((j ->> 'total_bytes')::float8, 0) END AS ratio
          FROM devices d CROSS JOIN LATERAL json_array_elements(
                 CASE WHEN json_typeof(d.health -> 'disks') = 'array'
                      THEN d.health -> 'disks' ELSE '[]'::json END) j
          WHERE d.health IS NOT NULL AND d.management != 'none'
            AND d.state NOT IN ({not_expected})
        ) disks
        WHERE ratio >= :floor
        ORDER BY id, mount""",
}
_DISKS = {name: sql.replace("{not_expected}", _NOT_EXPECTED_SQL) for name, sql in _DISKS.items()}


def collect(session, now: datetime | None = None, disk_floor: float = 0.8) -> list[Gauge]:
    """Every fleet and portal gauge, read in a few short queries on session."""
    started = time.perf_counter()
    now = now or utcnow()
    offices = {
        row.id: row for row in session.execute(select(Office.id, Office.name, Office.timezone))
    }
    office_labels = {oid: labels(office_id=oid, office=row.name) for oid, row in offices.items()}
    families = _counts(session, now, office_labels)
    families += _attention(session, now, office_labels, disk_floor)
    families += _portal(session, now, offices, office_labels)
    duration = Gauge(
        "telecentre_metrics_collect_duration_seconds",
        "Time taken to read the fleet and portal gauges from the database.",
    )
    duration.lines.append(f"{duration.name} {time.perf_counter() - started:.6f}\n")
    return [*families, duration]


def _counts(session, now, office_labels) -> list[Gauge]:
    """Devices by office, kind and state, and the oldest heartbeat, in one scan of the table."""
    devices = Gauge("telecentre_devices", "Devices by office, kind and state.")
    age = Gauge(
        "telecentre_device_heartbeat_age_max_seconds",
        "Seconds since the oldest last heartbeat among the office's agent devices of a kind "
        "that are counted online (above three agent intervals the offline sweep is late).",
    )
    # The counts come from the (office_id, kind, state) index alone; the oldest heartbeats
    # need the rows, so only the online agent devices' are read.
    stmt = (
        select(Device.office_id, Device.kind, Device.state, func.count())
        .group_by(Device.office_id, Device.kind, Device.state)
        .order_by(Device.office_id, Device.kind, Device.state)
    )
    for office_id, kind, state, n in session.execute(stmt):
        if office_id in office_labels:
            devices.add(f"{office_labels[office_id]},{labels(kind=kind, state=state)}", n)
    stmt = (
        select(Device.office_id, Device.kind, func.min(Device.last_seen))
        .where(Device.state == DeviceState.ONLINE, Device.management == Management.AGENT)
        .group_by(Device.office_id, Device.kind)
        .order_by(Device.office_id, Device.kind)
    )
    for office_id, kind, last_seen in session.execute(stmt):
        if office_id in office_labels and last_seen is not None:
            seconds = max(0.0, round((now - last_seen).total_seconds(), 3))
            age.add(f"{office_labels[office_id]},{labels(kind=kind)}", seconds)
    return [devices, age]


def _device_labels(office_labels, device_id, name, office_id, kind) -> str:
    # The office's part is escaped once per scrape, not once per device.
    return (f'device_id="{device_id}",device="{escape(name)}",{office_labels[office_id]},'
            f'kind="{escape(str(kind))}"')  # fmt: skip


# Seconds since an offline device was last heard from, computed by the database: a thousand
# offline devices are a thousand timestamps not parsed in Python.
_DOWN = f"""SELECT id, name, office_id, kind, {{age}} FROM devices
            WHERE state = '{DeviceState.OFFLINE.value}'
              AND management != '{Management.NONE.value}' ORDER BY id"""  # noqa: S608 - fixed words
_AGE = {
    "sqlite": "(julianday(:now) - julianday(coalesce(last_seen, updated_at))) * 86400.0",
    "postgresql": "extract(epoch from (:now - coalesce(last_seen, updated_at)))",
}


def _attention(session, now, office_labels, disk_floor) -> list[Gauge]:
    down = Gauge(
        "telecentre_device_down_seconds",
        "Seconds since an offline managed device was last heard from (only offline devices).",
    )
    dialect = session.get_bind().dialect.name
    stmt = text(_DOWN.format(age=_AGE[dialect])).bindparams(bindparam("now", type_=UTCDateTime()))
    for device_id, name, office_id, kind, seconds in session.execute(stmt, {"now": now}).all():
        if office_id in office_labels:
            value = max(0.0, round(float(seconds), 3))
            down.add(_device_labels(office_labels, device_id, name, office_id, kind), value)
    disk = Gauge(
        "telecentre_device_disk_used_ratio",
        "Used share of a file system in the device's last heartbeat (only those at or above "
        "METRICS_DISK_FLOOR).",
    )
    rows = session.execute(text(_DISKS[dialect]), {"floor": disk_floor}).all()
    for device_id, name, office_id, kind, mount, ratio in rows:
        if office_id in office_labels:
            text_ = _device_labels(office_labels, device_id, name, office_id, kind)
            disk.add(f"{text_},{labels(mount=mount)}", round(min(ratio, 1.0), 6))
    return [down, disk]


def _portal(session, now, offices, office_labels) -> list[Gauge]:
    active = dict(
        session.execute(
            select(PortalSession.office_id, func.count())
            .where(PortalSession.ended_at.is_(None))
            .group_by(PortalSession.office_id)
        ).all()
    )
    unused = dict(
        session.execute(
            select(Voucher.office_id, func.count())
            .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
            .where(
                Voucher.first_used_at.is_(None),
                VoucherBatch.revoked_at.is_(None),
                VoucherBatch.valid_until > now,
            )  # fmt: skip
            .group_by(Voucher.office_id)
        ).all()
    )
    hours = dict(session.execute(select(PortalPolicy.office_id, PortalPolicy.opening_hours)).all())
    sessions = Gauge(
        "telecentre_portal_sessions_active",
        "Visitor sessions on the office's hotspot that have not ended.",
    )
    vouchers = Gauge(
        "telecentre_portal_vouchers_unused",
        "Vouchers never used yet, in batches neither revoked nor expired.",
    )
    is_open = Gauge(
        "telecentre_portal_office_open",
        "1 while the office's portal policy says it is open, else 0.",
    )
    county_hours = hours.get(None)
    for office_id, row in sorted(offices.items()):
        text_ = office_labels[office_id]
        sessions.add(text_, active.get(office_id, 0))
        vouchers.add(text_, unused.get(office_id, 0))
        opening = hours[office_id] if office_id in hours else county_hours
        is_open.add(text_, 0 if seconds_to_closing(opening, now, row.timezone) == 0 else 1)
    return [sessions, vouchers, is_open]
