"""Availability from device state changes: the share of a period a device was online.

State changes are few (a device goes offline now and then), so they are walked in Python.
Before a device's first recorded change its state is the change's `from_state`; a device
without any change in the period kept the state it had before it (or has now, if none).
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from controller.devices.models import Device, DeviceKind
from controller.extensions import db
from controller.fleet.models import DeviceEvent

ACCESS_POINT_KINDS = (DeviceKind.GATEWAY.value, DeviceKind.HOTSPOT.value)
ONLINE = "online"


def online_intervals(devices: list, start: datetime, end: datetime) -> dict[int, list]:
    """For each device, its online intervals within [start, end) (after it was created)."""
    ids = [d.id for d in devices]
    if not ids or end <= start:
        return {}
    before = _state_before(ids, start)
    changes: dict[int, list] = defaultdict(list)
    rows = db.session.execute(
        select(DeviceEvent.device_id, DeviceEvent.at, DeviceEvent.from_state,
               DeviceEvent.to_state)
        .where(DeviceEvent.device_id.in_(ids), DeviceEvent.at >= start, DeviceEvent.at < end)
        .order_by(DeviceEvent.device_id, DeviceEvent.at, DeviceEvent.id)
    )  # fmt: skip
    for device_id, at, from_state, to_state in rows:
        changes[device_id].append((at, from_state, to_state))
    out = {}
    for device in devices:
        begin = max(start, device.created_at)
        if begin >= end:
            continue
        events = changes.get(device.id, [])
        state = before.get(device.id) or (events[0][1] if events else str(device.state))
        intervals, since = [], begin
        for at, _from, to_state in events:
            if state == ONLINE and at > since:
                intervals.append((since, at))
            state, since = to_state, max(at, begin)
        if state == ONLINE and end > since:
            intervals.append((since, end))
        out[device.id] = intervals
    return out


def _state_before(ids: list[int], start: datetime) -> dict[int, str]:
    latest = (
        select(DeviceEvent.device_id, func.max(DeviceEvent.at).label("at"))
        .where(DeviceEvent.device_id.in_(ids), DeviceEvent.at < start)
        .group_by(DeviceEvent.device_id)
        .subquery()
    )
    rows = db.session.execute(
        select(DeviceEvent.device_id, DeviceEvent.to_state, DeviceEvent.id)
        .join(latest, (DeviceEvent.device_id == latest.c.device_id)
              & (DeviceEvent.at == latest.c.at))
        .order_by(DeviceEvent.id)
    )  # fmt: skip
    return {device_id: state for device_id, state, _id in rows}  # the last of equal times


def percent(intervals: list, begin: datetime, end: datetime) -> float | None:
    """Online share of [begin, end) in percent, two decimals; None for an empty window."""
    total = (end - begin).total_seconds()
    if total <= 0:
        return None
    online = sum((b - a).total_seconds() for a, b in _union(intervals))
    return round(100.0 * online / total, 2)


def _union(intervals: list) -> list:
    merged: list = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def figures(devices: list, start: datetime, end: datetime) -> tuple[dict, dict]:
    """(device id → availability %, office id → access point availability %) in [start, end).

    An office's access point is available while any of its gateways or hotspots is online;
    its window starts when the first of them was added.
    """
    intervals = online_intervals(devices, start, end)
    by_device, by_office, first_ap = {}, defaultdict(list), {}
    for device in devices:
        begin = max(start, device.created_at)
        by_device[device.id] = percent(intervals.get(device.id, []), begin, end)
        if str(device.kind) in ACCESS_POINT_KINDS and begin < end:
            by_office[device.office_id] += intervals.get(device.id, [])
            first_ap[device.office_id] = min(first_ap.get(device.office_id, begin), begin)
    offices = {o: percent(by_office[o], first_ap[o], end) for o in first_ap}
    return by_device, offices


def scoped_devices(office_ids) -> list:
    """Devices of the offices (every office for None), with what availability needs."""
    stmt = select(Device.id, Device.office_id, Device.kind, Device.name, Device.state,
                  Device.created_at).order_by(Device.office_id, Device.name)  # fmt: skip
    if office_ids is not None:
        stmt = stmt.where(Device.office_id.in_(office_ids))
    return list(db.session.execute(stmt))
