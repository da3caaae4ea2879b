"""Fleet and portal gauges read from the database at scrape time.

Nothing here is per visitor: sessions and vouchers are counted per office. Devices are
labelled with their id, name, office and kind, which are inventory, not personal data.
"""

import time
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select

from controller.devices.models import Device, DeviceState, Management
from controller.metrics.exposition import Gauge, labels
from controller.offices.models import Office
from controller.portal.models import PortalPolicy, PortalSession, Voucher, VoucherBatch
from controller.portal.policy import seconds_to_closing
from controller.types import utcnow

# A device in these states is not expected to answer, so it is neither up nor down.
_NOT_EXPECTED = (DeviceState.RETIRED, DeviceState.MAINTENANCE)


def _devices_stmt():
    return select(
        Device.id,
        Device.name,
        Device.office_id,
        Device.kind,
        Device.state,
        Device.management,
        Device.last_seen,
        Device.health["disks"],
    )


def collect(session, now: datetime | None = None) -> list[Gauge]:
    """Every fleet and portal gauge, read in one short series of queries on session."""
    started = time.perf_counter()
    now = now or utcnow()
    offices = {
        row.id: row for row in session.execute(select(Office.id, Office.name, Office.timezone))
    }
    office_labels = {oid: labels(office_id=oid, office=row.name) for oid, row in offices.items()}
    families = _device_families(session, now, offices, office_labels)
    families += _portal_families(session, now, offices, office_labels)
    duration = Gauge(
        "telecentre_metrics_collect_duration_seconds",
        "Time taken to read the fleet and portal gauges from the database.",
    )
    duration.lines.append(f"{duration.name} {time.perf_counter() - started:.6f}\n")
    return [*families, duration]


def _device_families(session, now, offices, office_labels) -> list[Gauge]:
    counts: Counter = Counter()
    up = Gauge(
        "telecentre_device_up",
        "1 when a managed device is online, 0 when it is offline or never answered "
        "(devices in maintenance or retired are left out).",
    )
    age = Gauge(
        "telecentre_device_heartbeat_age_seconds",
        "Seconds since the device agent's last heartbeat.",
    )
    disk = Gauge(
        "telecentre_device_disk_used_ratio",
        "Used share of a file system the device reported in its last heartbeat.",
    )
    for row in session.execute(_devices_stmt()):
        device_id, name, office_id, kind, state, management, last_seen, disks = row
        counts[office_id, kind, state] += 1
        if office_id not in offices or management == Management.NONE or state in _NOT_EXPECTED:
            continue
        text = labels(
            device_id=device_id,
            device=name,
            office_id=office_id,
            office=offices[office_id].name,
            kind=kind.value,
        )
        up.add(text, 1 if state == DeviceState.ONLINE else 0)
        if last_seen is not None and management == Management.AGENT:
            age.add(text, max(0.0, round((now - last_seen).total_seconds(), 3)))
        for mount, ratio in _disk_ratios(disks):
            disk.add(f"{text},{labels(mount=mount)}", ratio)
    devices = Gauge("telecentre_devices", "Devices by office, kind and state.")
    for (office_id, kind, state), n in sorted(counts.items(), key=lambda item: str(item[0])):
        if office_id in office_labels:
            devices.add(
                f"{office_labels[office_id]},{labels(kind=kind.value, state=state.value)}", n
            )
    return [devices, up, age, disk]


def _disk_ratios(disks) -> list[tuple[str, float]]:
    """(mount, used/total) of each well-formed disk entry of a heartbeat; others are skipped."""
    out = []
    for entry in disks if isinstance(disks, list) else ():
        if not isinstance(entry, dict):
            continue
        mount, total, used = entry.get("mount"), entry.get("total_bytes"), entry.get("used_bytes")
        if not isinstance(mount, str) or not mount or len(mount) > 200:
            continue
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (total, used)):
            continue
        if total > 0 and used >= 0:
            out.append((mount, round(min(used / total, 1.0), 6)))
    return out


def _portal_families(session, now, offices, office_labels) -> list[Gauge]:
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
            )
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
        text = office_labels[office_id]
        sessions.add(text, active.get(office_id, 0))
        vouchers.add(text, unused.get(office_id, 0))
        opening = hours[office_id] if office_id in hours else county_hours
        is_open.add(text, 0 if seconds_to_closing(opening, now, row.timezone) == 0 else 1)
    return [sessions, vouchers, is_open]
