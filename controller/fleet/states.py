"""Device states over time: online with each heartbeat, offline after missed ones."""

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from controller.devices.models import Device, DeviceState, Management
from controller.extensions import db
from controller.fleet.models import DeviceEvent
from controller.types import utcnow

MISSED_BEATS = 3  # intervals without a heartbeat before an agent device counts as offline


def record(device_id: int, office_id: int, old: DeviceState, new: DeviceState, reason: str,
           at: datetime | None = None) -> None:  # fmt: skip
    """Store one state change (in the current transaction)."""
    db.session.execute(
        insert(DeviceEvent).values(device_id=device_id, office_id=office_id, at=at or utcnow(),
                                   from_state=old.value, to_state=new.value, reason=reason[:100])
    )  # fmt: skip


def transition(device: Device, state: DeviceState, reason: str, at: datetime | None = None):
    """Move a device to a state, recording the change (no event when nothing changes)."""
    if device.state == state:
        return
    record(device.id, device.office_id, device.state, state, reason, at)
    device.state = state


def sweep(interval_s: int, now: datetime | None = None) -> int:
    """Mark agent devices offline whose heartbeats stopped; returns how many changed.

    Run by the scheduler (or `telecentre fleet sweep` from cron); never by web workers.
    """
    now = now or utcnow()
    limit = now - timedelta(seconds=MISSED_BEATS * interval_s)
    stale = db.session.scalars(
        select(Device).where(
            Device.management == Management.AGENT,
            Device.state == DeviceState.ONLINE,
            Device.last_seen < limit,
        )
    ).all()
    for device in stale:
        transition(device, DeviceState.OFFLINE, f"no heartbeat for {MISSED_BEATS} intervals", now)
    db.session.commit()
    return len(stale)
